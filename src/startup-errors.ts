import type { ApiKey } from './api-keys.js';
import { ConfigError } from './config-error.js';

/**
 * Start-up failures worded as one line that names the setting to change. Node's own texts
 * (`listen EADDRINUSE …`, `getaddrinfo ENOTFOUND …`) name neither PORT nor HOST.
 */
export function describeListenError(error: unknown, server: { host: string; port: number }): Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  const where = `${server.host}:${server.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`PORT ${server.port} is already in use on HOST ${server.host} (${where}): stop the other process or choose another PORT`);
    case 'EACCES':
      return new ConfigError(`PORT ${server.port} needs privileges this process lacks (${where}): choose a PORT above 1023`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`HOST "${server.host}" does not resolve to an address (${String(code)}): set HOST to an address of this machine, like 0.0.0.0 or 127.0.0.1`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`HOST ${server.host} is not an address of this machine (EADDRNOTAVAIL): set HOST to 0.0.0.0, 127.0.0.1 or one of its interfaces`);
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}

/** `redis://host:port` of a REDIS_URL: what a log line may show (never the user or password). */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'an unparsable URL';
  }
}

/** A network error's code (`ECONNREFUSED`), safe to log: never a URL or credential. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A client key granting an account this gateway does not serve is a typo, not a grant: refuse to start. */
export function checkApiKeyAccounts(keys: readonly ApiKey[] | undefined, accountIds: readonly string[]): void {
  const served = new Set(accountIds);
  keys?.forEach((key, index) => {
    const unknown = key.accounts.filter((account) => account !== '*' && !served.has(account));
    if (unknown.length) {
      throw new ConfigError(
        `GATEWAY_API_KEYS_FILE entry ${index + 1} ("accounts"): account ${unknown.join(', ')} is not configured (served: ${accountIds.join(', ') || 'none'})`,
      );
    }
  });
}
