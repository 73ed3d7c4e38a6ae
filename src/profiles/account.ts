import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { GraphClient, GraphNetworkError, type GraphCredentials } from '../graph/client.js';
import { ProfileFetcher } from '../graph/fetcher.js';
import { createStrategy } from '../graph/strategies/index.js';
import { GuardedStrategy, UsageGuard } from '../graph/usage-guard.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { UpstreamBatcher } from './batcher.js';
import type { CacheStore } from './cache-store.js';
import { CachedProfileSource } from './service.js';
import { createInteractionLog, type InteractionLog } from './interactions.js';
import { UpstreamSource, type ProfileSource } from './source.js';

/** Everything that reads profiles for one business account: its own token, groups and cache keys. */
export interface AccountProfiles {
  /** The Instagram professional account id (what webhooks carry in `entry[].id`). */
  id: string;
  source: ProfileSource;
  /** Drops the cached entry of an IGSID, when caching is on. */
  forget(igsid: string): Promise<void>;
  /** Drops a cached `CONSENT_REQUIRED` / `USER_BLOCKED` answer (the person just interacted); keeps a profile. */
  forgetNegative(igsid: string): Promise<void>;
  /** When each person last interacted, from messaging webhooks. */
  interactions: InteractionLog;
  /** Seconds left of the account's pause (usage at/over the threshold, or throttled); 0 when calls to Meta may go out. */
  pausedSeconds(): number;
}

export interface AccountDeps {
  config: Config;
  graphUrl: string;
  credentials: GraphCredentials;
  /** Known from configuration, or learned from `GET /me?fields=user_id` when absent. */
  accountId?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  store: CacheStore | undefined;
}

/** Builds client → strategy → fetcher → batcher → cache for one account. */
export async function createAccountProfiles(deps: AccountDeps): Promise<AccountProfiles> {
  const { config, logger, metrics } = deps;
  const client = new GraphClient({
    baseUrl: deps.graphUrl,
    version: config.apiVersion,
    credentials: deps.credentials,
    timeoutMs: config.graphTimeoutMs,
    logger,
    onResponse: (answer) => {
      metrics.recordUsageHeaders(answer.headers, accountLabel());
      guard.observe(answer);
    },
    onCall: (kind, outcome, durationMs) => {
      metrics.roundTrips.inc({ account: accountLabel(), kind, status: outcome });
      metrics.upstreamLatency.observe({ account: accountLabel(), kind }, durationMs / 1000);
    },
  });
  const guard = new UsageGuard({
    thresholdPercent: config.usageThrottlePercent,
    logger,
    label: () => accountLabel(),
    onUsage: (percent) => metrics.accountUsage.set({ account: accountLabel() }, percent),
    onBlock: (reason) => metrics.pauses.inc({ account: accountLabel(), reason }),
  });
  // The account id is learned with the first call; until then its label is "pending".
  let id: string | undefined = deps.accountId;
  const accountLabel = () => id ?? 'pending';
  id ??= await learnAccountId(client, deps.credentials.accessToken, logger);
  const accountId = id;
  const strategy = new GuardedStrategy(
    createStrategy(client, {
      strategy: config.batchStrategy,
      singleConcurrency: config.singleConcurrency,
      reprobeSeconds: config.reprobeSeconds,
      pausedSeconds: () => guard.remainingSeconds(),
      logger,
    }),
    guard,
    (ids) => metrics.pausedProfiles.inc({ account: accountId }, ids),
  );
  const fetcher = new ProfileFetcher(strategy, { retries: config.graphMaxRetries, baseMs: config.graphRetryBaseMs }, logger, {
    onGroup: (report) => metrics.batchSize.observe({ account: accountId, strategy: report.strategy }, report.ids),
    onProfile: (result) => metrics.profilesRead.inc({ account: accountId, result }),
  });

  const upstream: ProfileSource = config.coalescing
    ? new UpstreamBatcher(fetcher, {
        windowMs: config.batchWindowMs,
        maxPartialInFlight: 1,
        onCoalesced: () => metrics.coalescedWaits.inc({ account: accountId }),
      })
    : new UpstreamSource(fetcher);

  const c = config.cache;
  const interactions = createInteractionLog(`${c.keyPrefix}:${accountId}`, deps.store);
  const pausedSeconds = () => guard.remainingSeconds();
  if (!deps.store) return { id: accountId, source: upstream, forget: async () => undefined, forgetNegative: async () => undefined, interactions, pausedSeconds };
  const cached = new CachedProfileSource(
    accountId,
    `${c.keyPrefix}:${accountId}`,
    deps.store,
    upstream,
    {
      ttlMs: c.ttlSeconds * 1000,
      staleWhileRevalidateMs: c.staleWhileRevalidateSeconds * 1000,
      staleIfErrorMs: c.staleIfErrorSeconds * 1000,
      negativeTtlMs: c.negativeTtlSeconds * 1000,
      picMarginMs: c.picMarginSeconds * 1000,
    },
    metrics,
    logger,
  );
  return {
    id: accountId,
    source: cached,
    forget: (igsid) => cached.forget(igsid),
    forgetNegative: (igsid) => cached.forgetNegative(igsid),
    interactions,
    pausedSeconds,
  };
}

/**
 * The business account behind a token, from `GET /me?fields=user_id`. If Meta can't tell us now,
 * a digest of the token stands in: cache keys stay per-token, so never shared across businesses.
 */
async function learnAccountId(client: GraphClient, accessToken: string, logger: Logger): Promise<string> {
  try {
    const answer = await client.get('me', 'me', { fields: 'user_id,username' });
    const userId = (answer.body as { user_id?: unknown } | undefined)?.user_id;
    if (answer.status === 200 && (typeof userId === 'string' || typeof userId === 'number')) return String(userId);
    logger.warn({ status: answer.status }, 'could not learn the business account id from /me');
  } catch (error) {
    if (!(error instanceof GraphNetworkError)) throw error;
    logger.warn({ reason: error.reason }, 'could not reach the Graph API to learn the business account id');
  }
  return `token-${createHash('sha256').update(accessToken).digest('hex').slice(0, 16)}`;
}
