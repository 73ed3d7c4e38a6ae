import { createHash } from 'node:crypto';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { GraphClient, type GraphCredentials, type GraphResponse } from '../graph/client.js';
import { ProfileFetcher } from '../graph/fetcher.js';
import { UpstreamGate } from '../graph/gate.js';
import { Slots } from '../graph/slots.js';
import { createStrategy } from '../graph/strategies/index.js';
import { UsageGuard } from '../graph/usage-guard.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ProfileBatcher } from './batcher.js';
import { ProfileCache } from './cache.js';
import type { CacheStore } from './cache-store.js';
import { createInteractionLog, type InteractionLog } from './interactions.js';
import type { ProfileSource } from './source.js';
import { createCommenterLog, type CommenterLog } from './commenters.js';
import { createContactLog, type ContactLog } from './contacts.js';
import { RefreshAhead, refreshTiming } from './refresh-ahead.js';
import { GRAPH_FIELDS, type GraphField, type GraphProfile } from '../graph/profile.js';
import type { CrmRedis } from './crm-redis.js';
import { SharedAccountState } from '../replicas/account-state.js';
import { SharedFlight } from '../replicas/flight.js';
import { RefreshLeases } from '../replicas/refresh-leases.js';
import type { Replicas } from '../replicas/index.js';

/** Everything that reads profiles for one business account: its own token, groups and cache keys. */
export interface AccountProfiles {
  /** The Instagram professional account id (what webhooks carry in `entry[].id`). */
  id: string;
  /** The cache when caching is on, else the batcher. */
  source: ProfileSource;
  /** The cache's fresh memory copies (`ProfileCache.peekFresh`); undefined when caching is off. */
  peekFresh?: ((igsids: readonly string[], fields: readonly GraphField[]) => GraphProfile[] | undefined) | undefined;
  /** Drops cached `CONSENT_REQUIRED` / `USER_BLOCKED` answers (the people just interacted); keeps profiles. */
  forgetNegative(igsids: readonly string[]): Promise<void>;
  /** Drops cached entries entirely (the next lookup reads Meta), e.g. when the CDN refuses a picture URL. */
  forget(igsids: readonly string[]): Promise<void>;
  /**
   * Hears ids whose answer changed (a webhook, a stored answer replaced, a purge; with replicas, on any
   * replica): whole-response caches drop what shows them.
   */
  onChange?(listener: (igsids: readonly string[]) => void): void;
  /** When each person last interacted, from messaging webhooks. */
  interactions: InteractionLog;
  /** Seconds left of the account's pause (usage at/over the threshold, or throttled); 0 when calls to Meta may go out. */
  pausedSeconds(): number;
  /** Who interacted, most recent first (`instagramContacts`). */
  contacts: ContactLog;
  /** Usernames from comment webhooks, for people who have not consented. */
  commenters: CommenterLog;
  /** INFLUENCER_MIN_FOLLOWERS */
  influencerMinFollowers: number;
  /** Keeps active contacts' cached profiles fresh (started and closed by the app); undefined without a cache or when off. */
  refreshAhead?: RefreshAhead | undefined;
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
  /** Upstream call slots shared by every account of the process (UPSTREAM_MAX_CONCURRENCY). */
  upstreamSlots: Slots;
  /** With REDIS_URL: single-flight, invalidation and account state shared with the other replicas. */
  replicas?: Replicas | undefined;
  clock?: Clock;
  crm: Config['crm'];
  /** Contacts and commenters in Redis when `REDIS_URL` is set (shared by accounts). */
  crmRedis: CrmRedis | undefined;
  /** Aggregated warn lines for upstream failures (src/upstream-log.ts). */
  failures?: { record(account: string, result: string): void };
  /** Readiness (src/health.ts): gets the usage guard, observes every round trip. */
  health?: { attach(probe: { pausedSeconds(): number }): { response(answer: GraphResponse): void; networkError(): void } };
  refresh: Config['refresh'];
}

/** Builds client → strategy → fetcher → batcher → cache for one account. */
export async function createAccountProfiles(deps: AccountDeps): Promise<AccountProfiles> {
  const { graph, batching, logger, metrics } = deps;
  const clock = deps.clock ?? systemClock;
  const client = new GraphClient({
    baseUrl: deps.graphUrl,
    version: graph.apiVersion,
    credentials: deps.credentials,
    timeoutMs: graph.timeoutMs,
    maxResponseBytes: graph.maxResponseBytes,
    maxWaitSeconds: graph.maxPauseSeconds,
    clock,
    logger,
    accountId: () => id,
    onResponse: (answer) => {
      observer?.response(answer);
      metrics.recordUsage(answer.usage, accountLabel());
    },
    onCall: (kind, outcome, durationMs) => {
      if (outcome === 'network_error') observer?.networkError();
      metrics.roundTrips.inc({ account: accountLabel(), kind, status: outcome });
      metrics.upstreamLatency.observe({ account: accountLabel(), kind }, durationMs / 1000);
    },
  });
  // Bound once the account id is known (the guard below already serves the /me call).
  let shared: SharedAccountState | undefined;
  const guard = new UsageGuard({
    thresholdPercent: graph.usageThrottlePercent,
    clock,
    logger,
    label: () => accountLabel(),
    onBlock: (reason) => metrics.pauses.inc({ account: accountLabel(), reason }),
    onUsage: (percent) => {
      metrics.accountUsage.set({ account: accountLabel() }, percent);
      shared?.usage(percent);
    },
    onPause: (ms) => shared?.paused(ms),
  });
  const { maxConcurrencyPerAccount, queueLimit, queueWaitMs } = graph;
  const accountSlots = new Slots({ max: maxConcurrencyPerAccount, queueLimit, maxWaitMs: queueWaitMs }, clock);
  const gate = new UpstreamGate({
    guard,
    slots: [accountSlots, deps.upstreamSlots],
    clock,
    maxWaitSeconds: graph.maxPauseSeconds,
    onPaused: (ids) => metrics.pausedProfiles.inc({ account: accountLabel() }, ids),
    onShed: (reason) => metrics.upstreamShed.inc({ account: accountLabel(), reason }),
  });
  const observer = deps.health?.attach({ pausedSeconds: () => gate.pausedSeconds() });
  // The account id is learned with the first call; until then its label is "pending".
  let id: string | undefined = deps.accountId;
  const accountLabel = () => id ?? 'pending';
  if (id === undefined) {
    id = await learnAccountId(client, gate, deps.credentials.accessToken, logger);
    await metrics.renameAccount('pending', id);
  } else {
    // A configured id is checked against its token once at start: a rejected token shows in
    // readiness at once (the client's observer sees the 190), not at the first lookup.
    const told = await askMe(client, gate, logger);
    if (told !== undefined && told !== id) logger.warn({ account: id, tokenAccount: told }, 'the configured account id is not the one its access token belongs to (INSTAGRAM_ACCOUNTS_FILE)');
  }
  const accountId = id;
  const c = deps.cache;
  const namespace = `${c.keyPrefix}:${accountId}`;
  const { replicas } = deps;
  if (replicas) shared = new SharedAccountState(replicas.link, accountId, namespace, { adoptPause: (ms) => guard.adopt(ms) }, metrics);
  const strategy = createStrategy(client, gate, {
    strategy: graph.strategy,
    singleConcurrency: graph.singleConcurrency,
    reprobeMs: graph.reprobeMs,
    clock,
    logger,
    sharedRefusal: shared,
  });
  const fetcher = new ProfileFetcher(strategy, { retries: graph.maxRetries, baseMs: graph.retryBaseMs }, logger, {
    onGroup: (report) => metrics.batchSize.observe({ account: accountId, strategy: report.strategy }, report.ids),
    onProfile: (result, sent) => {
      // The metric counts what Meta was asked; the log, every failed lookup (shed and paused ones too).
      if (sent) metrics.profilesRead.inc({ account: accountId, result });
      deps.failures?.record(accountId, result);
    },
  });
  const pausedSeconds = () => gate.pausedSeconds();

  // With replicas, partial groups pool with the other replicas' into one trip (src/replicas/pool.ts).
  const groups = replicas && batching.coalescing ? replicas.pooled(fetcher, accountId, namespace, clock) : fetcher;
  const batcher = new ProfileBatcher(groups, {
    coalescing: batching.coalescing,
    windowMs: batching.windowMs,
    maxPartialInFlight: 1,
    maxPartialWaitMs: batching.maxWaitMs,
    clock,
    onCoalesced: () => metrics.coalescedWaits.inc({ account: accountId }),
    onFetchError: (error) => logger.error({ err: error }, 'fetching a group rejected unexpectedly: its ids were answered UPSTREAM_ERROR'),
  });

  const upstream: ProfileSource = replicas
    ? new SharedFlight(batcher, replicas.link, { account: accountId, namespace, leaseMs: replicas.leaseMs, waitMs: replicas.waitMs, metrics, clock })
    : batcher;
  const interactions = createInteractionLog(namespace, deps.store);
  const lists = { namespace, retentionMs: deps.crm.contactsRetentionMs, maxEntries: deps.crm.contactsMaxPerAccount, clock, redis: deps.crmRedis };
  const crm = { contacts: createContactLog(lists), commenters: createCommenterLog(lists), influencerMinFollowers: deps.crm.influencerMinFollowers };
  if (!deps.store) {
    const none = async () => undefined;
    return { id: accountId, source: batcher, forgetNegative: none, forget: none, interactions, pausedSeconds, ...crm, refreshAhead: undefined };
  }
  const policy = {
    ttlMs: c.ttlMs,
    staleWhileRevalidateMs: c.staleWhileRevalidateMs,
    staleIfErrorMs: c.staleIfErrorMs,
    negativeTtlMs: c.negativeTtlMs,
    picMarginMs: c.picMarginMs,
  };
  const cache = new ProfileCache(accountId, namespace, deps.store, upstream, policy, metrics, logger, clock);
  const r = deps.refresh;
  const refreshAhead =
    r.activeMs > 0
      ? new RefreshAhead(
          {
            contacts: crm.contacts,
            entries: (igsids) => cache.entries(igsids),
            refresh: (igsids) => cache.refresh(igsids, GRAPH_FIELDS),
            pausedSeconds,
            latestUsage: () => guard.latestUsage(),
            busy: () => accountSlots.inFlight >= maxConcurrencyPerAccount,
            leases: replicas ? new RefreshLeases(replicas.link, namespace, refreshTiming(policy.ttlMs).leadMs / 2) : undefined,
          },
          {
            ...r,
            policy,
            clock,
            onRead: (result, count) => metrics.refreshAheadReads.inc({ account: accountId, result }, count),
            onGroup: () => metrics.refreshAheadGroups.inc({ account: accountId }),
            onSkipped: (reason, count) => metrics.refreshAheadSkipped.inc({ account: accountId, reason }, count),
            onError: (error) => logger.error({ err: error, account: accountId }, 'refresh-ahead failed'),
          },
        )
      : undefined;
  const listeners = new Set<(igsids: readonly string[]) => void>();
  const changed = (igsids: readonly string[]) => {
    for (const listener of listeners) listener(igsids);
  };
  const forgetNegative = async (igsids: readonly string[]) => {
    await cache.forgetNegative(igsids);
    changed(igsids);
    await replicas?.invalidation.changed(accountId, igsids);
  };
  const forget = async (igsids: readonly string[]) => {
    await cache.forget(igsids);
    changed(igsids);
    await replicas?.invalidation.changed(accountId, igsids);
  };
  cache.onStored = (igsids, written) => {
    // Here at once (whole answers read before this change stop being served); the other replicas
    // once Redis holds the new entries, so what they read next is the new state.
    changed(igsids);
    if (replicas) void written.then(() => replicas.invalidation.changed(accountId, igsids)).catch(() => undefined);
  };
  replicas?.link.onMessage((message) => {
    if (message.t === 'drop' && message.account === accountId) changed(message.ids);
  });
  const onChange = (listener: (igsids: readonly string[]) => void) => void listeners.add(listener);
  const peekFresh = (igsids: readonly string[], fields: readonly GraphField[]) => cache.peekFresh(igsids, fields);
  return { id: accountId, source: cache, peekFresh, forgetNegative, forget, onChange, interactions, pausedSeconds, ...crm, refreshAhead };
}

const meAnswer = z.object({ user_id: z.union([z.string().regex(/^\d{1,30}$/), z.number().int().nonnegative()]) });

/** The business account id Meta tells for this token (`GET /me?fields=user_id`), or undefined when it can't now. */
async function askMe(client: GraphClient, gate: UpstreamGate, logger: Logger): Promise<string | undefined> {
  const sent = await gate.send(0, () => client.get('me', 'me', { fields: 'user_id,username' }));
  if ('failure' in sent) {
    logger.warn({ reason: sent.failure.message }, 'could not reach the Graph API to learn the business account id');
    return undefined;
  }
  const me = meAnswer.safeParse(sent.answer.body);
  if (sent.answer.status === 200 && me.success) return String(me.data.user_id);
  logger.warn({ status: sent.answer.status }, 'could not learn the business account id from /me');
  return undefined;
}

/**
 * The business account behind a token. If Meta can't tell us now, a digest of the token stands in:
 * cache keys stay per-token, so never shared across businesses.
 */
async function learnAccountId(client: GraphClient, gate: UpstreamGate, accessToken: string, logger: Logger): Promise<string> {
  return (await askMe(client, gate, logger)) ?? `token-${createHash('sha256').update(accessToken).digest('hex').slice(0, 16)}`;
}
