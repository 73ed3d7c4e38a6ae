import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { GraphClient, GraphNetworkError, type GraphCredentials, type GraphResponse } from '../graph/client.js';
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
}

export interface AccountDeps {
  graph: Config['graph'];
  batching: Config['batching'];
  cache: Config['cache'];
  graphUrl: string;
  credentials: GraphCredentials;
  /** Known from configuration, or learned from `GET /me?fields=user_id` when absent. */
  accountId?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  store: CacheStore | undefined;
  /** Aggregated warn lines for upstream failures (src/upstream-log.ts). */
  failures?: { record(account: string, result: string): void };
  /** Readiness (src/health.ts): gets the usage guard, observes every round trip. */
  health?: { attach(probe: { pausedSeconds(): number }): { response(answer: GraphResponse): void; networkError(): void } };
}

/** Builds client → strategy → fetcher → batcher → cache for one account. */
export async function createAccountProfiles(deps: AccountDeps): Promise<AccountProfiles> {
  const { graph, batching, logger, metrics } = deps;
  const client = new GraphClient({
    baseUrl: deps.graphUrl,
    version: graph.apiVersion,
    credentials: deps.credentials,
    timeoutMs: graph.timeoutMs,
    logger,
    accountId: () => id,
    onResponse: (answer) => {
      observer?.response(answer);
      metrics.recordUsageHeaders(answer.headers, accountLabel());
      guard.observe(answer);
    },
    onCall: (kind, outcome, durationMs) => {
      if (outcome === 'network_error') observer?.networkError();
      metrics.roundTrips.inc({ account: accountLabel(), kind, status: outcome });
      metrics.upstreamLatency.observe({ account: accountLabel(), kind }, durationMs / 1000);
    },
  });
  const guard = new UsageGuard({
    thresholdPercent: graph.usageThrottlePercent,
    logger,
    label: () => accountLabel(),
    onUsage: (percent) => metrics.accountUsage.set({ account: accountLabel() }, percent),
    onBlock: (reason) => metrics.pauses.inc({ account: accountLabel(), reason }),
  });
  const observer = deps.health?.attach({ pausedSeconds: () => guard.remainingSeconds() });
  // The account id is learned with the first call; until then its label is "pending".
  let id: string | undefined = deps.accountId;
  const accountLabel = () => id ?? 'pending';
  id ??= await learnAccountId(client, deps.credentials.accessToken, logger);
  const accountId = id;
  const strategy = new GuardedStrategy(
    createStrategy(client, {
      strategy: graph.strategy,
      singleConcurrency: graph.singleConcurrency,
      reprobeMs: graph.reprobeMs,
      pausedSeconds: () => guard.remainingSeconds(),
      logger,
    }),
    guard,
    (ids) => metrics.pausedProfiles.inc({ account: accountId }, ids),
  );
  const fetcher = new ProfileFetcher(strategy, { retries: graph.maxRetries, baseMs: graph.retryBaseMs }, logger, {
    onGroup: (report) => metrics.batchSize.observe({ account: accountId, strategy: report.strategy }, report.ids),
    onProfile: (result) => {
      metrics.profilesRead.inc({ account: accountId, result });
      deps.failures?.record(accountId, result);
    },
  });

  const upstream: ProfileSource = batching.coalescing
    ? new UpstreamBatcher(fetcher, {
        windowMs: batching.windowMs,
        maxPartialInFlight: 1,
        onCoalesced: () => metrics.coalescedWaits.inc({ account: accountId }),
      })
    : new UpstreamSource(fetcher);

  const c = deps.cache;
  const interactions = createInteractionLog(`${c.keyPrefix}:${accountId}`, deps.store);
  if (!deps.store) return { id: accountId, source: upstream, forget: async () => undefined, forgetNegative: async () => undefined, interactions };
  const cached = new CachedProfileSource(
    accountId,
    `${c.keyPrefix}:${accountId}`,
    deps.store,
    upstream,
    {
      ttlMs: c.ttlMs,
      staleWhileRevalidateMs: c.staleWhileRevalidateMs,
      staleIfErrorMs: c.staleIfErrorMs,
      negativeTtlMs: c.negativeTtlMs,
      picMarginMs: c.picMarginMs,
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
