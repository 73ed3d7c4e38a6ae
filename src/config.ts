import type { z } from 'zod';
import { loadAccountsFile, type AccountCredentials } from './accounts-file.js';
import { loadApiKeysFile, type ApiKey } from './api-keys.js';
import { ConfigError } from './config-error.js';
import { checkApiKeyAccounts } from './startup-errors.js';
import { SETTINGS, type SettingGroups, type SettingName } from './settings.js';

export type { BatchStrategyName } from './settings.js';
export { ConfigError };

/** The whole configuration: one slice per settings group, plus what is derived from several settings. */
export type Config = Omit<SettingGroups, 'server'> & {
  server: Omit<SettingGroups['server'], 'playground' | 'introspection'> & {
    /** GraphiQL on `/playground`; default off in production. */
    playground: boolean;
    /** GraphQL introspection; default off in production. */
    introspection: boolean;
  };
  /** The business accounts served: from INSTAGRAM_ACCOUNTS_FILE, or one from INSTAGRAM_ACCESS_TOKEN; empty in demo mode. */
  accounts: AccountCredentials[];
  /** Client keys from GATEWAY_API_KEYS_FILE; undefined when clients need no key. */
  apiKeys: ApiKey[] | undefined;
  production: boolean;
  /** True when no token is configured outside production: the built-in simulator answers. */
  simulated: boolean;
};

/** Every declared setting, read, validated and placed in its group; the first bad one throws a line naming it. */
function readSettings(env: NodeJS.ProcessEnv): SettingGroups {
  const groups: Record<string, Record<string, unknown>> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as Array<[SettingName, (typeof SETTINGS)[SettingName]]>) {
    const raw = env[name];
    const input = raw === undefined || raw === '' ? setting.default : raw;
    const parsed = (setting.schema as z.ZodType).safeParse(input);
    if (!parsed.success) {
      const reason = parsed.error.issues[0]?.message ?? 'is invalid';
      // Never echo secrets (a Redis URL may hold a password); other values help spot the typo.
      const shown = 'secret' in setting && setting.secret ? '' : ` (got "${raw}")`;
      throw new ConfigError(`${name} ${reason}${shown}`);
    }
    (groups[setting.group] ??= {})[setting.key] = parsed.data;
  }
  return groups as SettingGroups;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const s = readSettings(env);
  const production = s.server.nodeEnv === 'production';
  const { accessToken, accountsFile, apiKeysFile, appSecret } = s.instagram;
  if (accountsFile && accessToken) {
    // Merging would make it unclear which token serves which account: one source of truth.
    throw new ConfigError('set INSTAGRAM_ACCOUNTS_FILE or INSTAGRAM_ACCESS_TOKEN, not both (put every account in the file)');
  }
  if (production && !accessToken && !accountsFile) {
    throw new ConfigError(
      'INSTAGRAM_ACCESS_TOKEN or INSTAGRAM_ACCOUNTS_FILE is required when NODE_ENV=production (the built-in simulator only runs outside production)',
    );
  }
  const accounts: AccountCredentials[] = accountsFile
    ? loadAccountsFile(accountsFile, appSecret)
    : accessToken
      ? [{ accessToken, appSecret }]
      : [];
  if (s.timeouts.headersMs > s.timeouts.requestMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${s.timeouts.headersMs}) must not exceed REQUEST_TIMEOUT_MS (${s.timeouts.requestMs})`);
  }
  const apiKeys = apiKeysFile ? loadApiKeysFile(apiKeysFile) : undefined;
  // The single-token account's id is learned from /me later; accounts-file ids are known now.
  if (accounts.length && accounts.every((account) => account.id)) checkApiKeyAccounts(apiKeys, accounts.map((account) => account.id!));
  if (production && accounts.length > 1 && !apiKeys) {
    throw new ConfigError(
      `GATEWAY_API_KEYS_FILE is required when NODE_ENV=production and several accounts are configured (${accounts.length}): otherwise anyone reaching /graphql could read every account's profiles`,
    );
  }
  return {
    ...s,
    server: { ...s.server, playground: s.server.playground ?? !production, introspection: s.server.introspection ?? !production },
    accounts,
    apiKeys,
    production,
    simulated: accounts.length === 0,
  };
}

/** Every secret value in the configuration, for the logger to scrub. */
export function configSecrets(config: Config): string[] {
  const { redisUrl } = config.cache;
  const redisPassword = redisUrl ? decodeURIComponent(new URL(redisUrl).password) : undefined;
  const values = [config.instagram.accessToken, config.instagram.appSecret, config.webhook.verifyToken, redisPassword, config.avatars.signingKey, config.tokens.encryptionKey];
  for (const account of config.accounts) values.push(account.accessToken, account.appSecret);
  for (const key of config.apiKeys ?? []) values.push(key.key);
  for (const value of Object.values(config.telemetry.headers ?? {})) values.push(value);
  return values.filter((value): value is string => typeof value === 'string');
}
