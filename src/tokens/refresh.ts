import { z } from 'zod';
import type { Clock, ClockTimer } from '../clock.js';
import { appsecretProof } from '../graph/client.js';
import { scrubFromLogs, type Logger } from '../logger.js';
import type { StoredToken, TokenStore } from './store.js';

/** The account's credentials as its Graph client reads them at every call: a refresh takes effect at once. */
export interface LiveCredentials {
  accessToken: string;
  appSecret?: string | undefined;
}

export type TokenState = 'ok' | 'token_invalid';

export interface TokenStatus {
  state: TokenState;
  /** Epoch ms; undefined until Meta (or the store) said. */
  expiresAt: number | undefined;
  refreshedAt: number | undefined;
}

export interface RefresherOptions {
  accountId: string;
  /** The token from configuration: names the stored record, never changes. */
  configuredToken: string;
  credentials: LiveCredentials;
  graphUrl: string;
  intervalMs: number;
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  store: TokenStore | undefined;
  /** Wraps the HTTP call (tracing); defaults to running it. */
  around?: <T>(call: () => Promise<T>) => Promise<T>;
}

export const WARN_BEFORE_EXPIRY_MS = 7 * 86_400_000;
const RETRY_BASE_MS = 60_000;
const MAX_ANSWER_CHARS = 16 * 1024;

const refreshed = z.object({
  access_token: z.string().min(1).max(4096),
  token_type: z.string().max(40).optional(),
  expires_in: z.number().int().positive().max(10 * 365 * 86_400),
});
const graphError = z.object({ error: z.object({ code: z.number().int(), message: z.string().max(2000).optional() }) });

/** What a refresh attempt ended with; `code` is Meta's error code when it sent one. */
type Attempt = { ok: true; token: StoredToken } | { ok: false; reason: string; code?: number };

/**
 * Keeps one account's long-lived token alive: every `intervalMs` (counted from the last refresh,
 * by any replica sharing the store) it asks Meta's `refresh_access_token` for a new one, switches
 * to it at once and stores it encrypted. Failures are logged and retried with capped exponential
 * backoff; Meta's code 190 marks the token invalid until a later refresh works.
 */
export class TokenRefresher {
  private expiresAt: number | undefined;
  private refreshedAt: number | undefined;
  private state: TokenState = 'ok';
  private failures = 0;
  private timer: ClockTimer | undefined;
  private stopped = false;
  private readonly startedAt: number;

  constructor(private readonly options: RefresherOptions) {
    this.startedAt = options.clock.now();
  }

  /** Takes a token another replica (or an earlier run) stored, if it is newer than ours. */
  adopt(token: StoredToken): void {
    if (this.refreshedAt !== undefined && token.refreshedAt <= this.refreshedAt) return;
    this.options.credentials.accessToken = token.accessToken;
    scrubFromLogs(this.options.logger, token.accessToken);
    this.expiresAt = token.expiresAt ?? undefined;
    this.refreshedAt = token.refreshedAt;
  }

  status(): TokenStatus {
    return { state: this.state, expiresAt: this.expiresAt, refreshedAt: this.refreshedAt };
  }

  start(): void {
    this.warnIfExpiring();
    this.schedule((this.refreshedAt ?? this.startedAt) + this.options.intervalMs - this.options.clock.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One refresh cycle: pick up a newer stored token, else ask Meta. Resolves when the next one is scheduled. */
  async tick(): Promise<void> {
    const { clock, logger, accountId, intervalMs } = this.options;
    const stored = await this.loadStored();
    if (stored && stored.refreshedAt > (this.refreshedAt ?? 0)) {
      this.adopt(stored);
      this.state = 'ok';
      if (clock.now() < stored.refreshedAt + intervalMs) {
        logger.info({ account: accountId, expiresAt: iso(this.expiresAt) }, 'using the access token another replica refreshed');
        this.failures = 0;
        return this.schedule(stored.refreshedAt + intervalMs - clock.now());
      }
    }
    const attempt = await this.attempt();
    if (this.stopped) return;
    if (attempt.ok) {
      this.adopt(attempt.token);
      this.state = 'ok';
      this.failures = 0;
      await this.save(attempt.token);
      logger.info({ account: accountId, expiresAt: iso(this.expiresAt), stored: Boolean(this.options.store) }, 'access token refreshed');
      this.warnIfExpiring();
      return this.schedule(intervalMs);
    }
    this.failures += 1;
    const retryMs = Math.min(intervalMs, RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 10));
    if (attempt.code === 190) this.state = 'token_invalid';
    logger[attempt.code === 190 ? 'error' : 'warn'](
      { account: accountId, reason: attempt.reason, code: attempt.code, failures: this.failures, retryInSeconds: Math.round(retryMs / 1000) },
      attempt.code === 190 ? 'access token refresh refused: Meta says the token is invalid (code 190)' : 'access token refresh failed; will retry',
    );
    this.warnIfExpiring();
    return this.schedule(retryMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      void this.tick().catch((error: unknown) => {
        // tick handles its own failures; this is a bug guard that keeps the schedule alive.
        this.options.logger.error({ account: this.options.accountId, err: error }, 'token refresh cycle failed');
        this.schedule(RETRY_BASE_MS);
      });
    }, Math.max(0, ms));
    this.timer.unref?.();
  }

  private async attempt(): Promise<Attempt> {
    const { credentials, graphUrl, timeoutMs } = this.options;
    const params = new URLSearchParams({ grant_type: 'ig_refresh_token' });
    if (credentials.appSecret) params.set('appsecret_proof', appsecretProof(credentials.accessToken, credentials.appSecret));
    const call = async (): Promise<Attempt> => {
      // The token travels in the Authorization header, never in a URL that something might log.
      const response = await fetch(`${graphUrl}/refresh_access_token?${params}`, {
        headers: { authorization: `Bearer ${credentials.accessToken}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (text.length > MAX_ANSWER_CHARS) return { ok: false, reason: `HTTP ${response.status}: answer too large` };
      const body = safeJson(text);
      const success = refreshed.safeParse(body);
      if (response.ok && success.success) {
        const now = this.options.clock.now();
        return { ok: true, token: { accessToken: success.data.access_token, expiresAt: now + success.data.expires_in * 1000, refreshedAt: now } };
      }
      const error = graphError.safeParse(body);
      return error.success
        ? { ok: false, reason: `HTTP ${response.status}: ${error.data.error.message ?? 'Graph error'}`, code: error.data.error.code }
        : { ok: false, reason: `HTTP ${response.status}: unexpected answer` };
    };
    try {
      return await (this.options.around ?? ((run) => run()))(call);
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      return { ok: false, reason: name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : typeof code === 'string' ? code : 'network error' };
    }
  }

  private async loadStored(): Promise<StoredToken | undefined> {
    if (!this.options.store) return undefined;
    try {
      return await this.options.store.load(this.options.configuredToken);
    } catch (error) {
      this.options.logger.warn({ account: this.options.accountId, reason: (error as Error).message }, 'could not read the stored access token');
      return undefined;
    }
  }

  private async save(token: StoredToken): Promise<void> {
    if (!this.options.store) return;
    try {
      await this.options.store.save(this.options.configuredToken, token);
    } catch (error) {
      this.options.logger.error(
        { account: this.options.accountId, reason: (error as Error).message },
        'could not store the refreshed access token: a restart would fall back to an older one',
      );
    }
  }

  private warnIfExpiring(): void {
    if (this.expiresAt === undefined) return;
    const left = this.expiresAt - this.options.clock.now();
    if (left < WARN_BEFORE_EXPIRY_MS) {
      this.options.logger.warn(
        { account: this.options.accountId, expiresAt: iso(this.expiresAt), daysLeft: Math.max(0, Math.floor(left / 86_400_000)) },
        'access token expires in less than 7 days: refresh it or log the business in again',
      );
    }
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
