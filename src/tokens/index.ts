import { Gauge } from 'prom-client';
import type { AccountCredentials } from '../accounts-file.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { scrubFromLogs, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { decodeKey } from '../settings.js';
import type { Telemetry } from '../telemetry.js';
import { TokenRefresher, type LiveCredentials, type TokenStatus } from './refresh.js';
import { createTokenStore, redisTokenBackend, type StoredToken, type TokenStore } from './store.js';

export type { LiveCredentials, TokenStatus } from './refresh.js';

export interface AccountTokensOptions {
  tokens: Config['tokens'];
  redisUrl: string | undefined;
  keyPrefix: string;
  graphUrl: string;
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Tests give a store of their own; otherwise Redis when REDIS_URL and TOKEN_ENCRYPTION_KEY are set. */
  store?: TokenStore;
  /** Each refresh becomes a trace of its own. */
  telemetry?: Telemetry;
}

/**
 * Every account's current access token: the newest stored one at start, refreshed on schedule
 * afterwards (src/tokens/refresh.ts), exposed as live credentials the Graph clients read per call.
 */
export class AccountTokens {
  private readonly store: TokenStore | undefined;
  private readonly pending = new Map<LiveCredentials, { configuredToken: string; stored: StoredToken | undefined }>();
  private readonly refreshers = new Map<string, TokenRefresher>();

  constructor(private readonly options: AccountTokensOptions) {
    const { tokens, redisUrl, logger } = options;
    const key = tokens.encryptionKey ? decodeKey(tokens.encryptionKey) : undefined;
    this.store = options.store ?? (key && redisUrl ? createTokenStore({ key, keyPrefix: options.keyPrefix, backend: redisTokenBackend(redisUrl, 2000) }) : undefined);
    if (tokens.refreshMs === 0) {
      logger.warn('INSTAGRAM_TOKEN_REFRESH_SECONDS=0: access tokens are not refreshed and stop working when Meta expires them (60 days after issue)');
    } else if (!this.store) {
      logger.warn(
        `refreshed access tokens stay in memory only: a restart goes back to the configured token (set ${redisUrl ? '' : 'REDIS_URL and '}TOKEN_ENCRYPTION_KEY to store them encrypted)`,
      );
    }
    const gauge = new Gauge({
      name: 'igpg_token_expires_seconds',
      help: "Seconds until the account's access token expires (as Meta said when it was last refreshed); absent until known.",
      labelNames: ['account'] as const,
      registers: [options.metrics.registry],
      collect: () => {
        gauge.reset();
        for (const [account, refresher] of this.refreshers) {
          const { expiresAt } = refresher.status();
          if (expiresAt !== undefined) gauge.set({ account }, Math.round((expiresAt - options.clock.now()) / 1000));
        }
      },
    });
  }

  /** The account's credentials, starting from the newest stored token when there is one. */
  async prepare(account: AccountCredentials): Promise<LiveCredentials> {
    const live: LiveCredentials = { accessToken: account.accessToken, appSecret: account.appSecret };
    let stored: StoredToken | undefined;
    if (this.store) {
      try {
        stored = await this.store.load(account.accessToken);
      } catch (error) {
        this.options.logger.warn({ account: account.id, reason: (error as Error).message }, 'could not read the stored access token: starting with the configured one');
      }
    }
    const now = this.options.clock.now();
    if (stored && (stored.expiresAt === null || stored.expiresAt > now)) {
      live.accessToken = stored.accessToken;
      scrubFromLogs(this.options.logger, stored.accessToken);
      this.options.logger.info({ account: account.id, refreshedAt: new Date(stored.refreshedAt).toISOString() }, 'using the newest stored access token');
    } else {
      stored = undefined;
    }
    this.pending.set(live, { configuredToken: account.accessToken, stored });
    return live;
  }

  /** Starts refreshing once the account's id is known. */
  start(live: LiveCredentials, accountId: string): void {
    const prepared = this.pending.get(live);
    if (!prepared) return;
    this.pending.delete(live);
    const { tokens, graphUrl, timeoutMs, clock, logger, telemetry } = this.options;
    const refresher = new TokenRefresher({
      accountId,
      configuredToken: prepared.configuredToken,
      credentials: live,
      graphUrl,
      intervalMs: tokens.refreshMs,
      timeoutMs,
      clock,
      logger,
      store: this.store,
      ...(telemetry?.enabled ? { around: <T>(run: () => Promise<T>) => telemetry.background('instagram.token.refresh', { 'instagram.account.id': accountId }, run) } : {}),
    });
    if (prepared.stored) refresher.adopt(prepared.stored);
    this.refreshers.set(accountId, refresher);
    if (tokens.refreshMs > 0) refresher.start();
  }

  /** The account's real id was learned after start. */
  rename(oldId: string, newId: string): void {
    const refresher = this.refreshers.get(oldId);
    if (!refresher) return;
    this.refreshers.delete(oldId);
    this.refreshers.set(newId, refresher);
  }

  status(accountId: string): TokenStatus | undefined {
    return this.refreshers.get(accountId)?.status();
  }

  async close(): Promise<void> {
    for (const refresher of this.refreshers.values()) refresher.stop();
    await this.store?.close();
  }
}
