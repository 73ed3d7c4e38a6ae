import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageReport } from './graph/usage.js';

/** A token speaks for one business; a few hundred ids is far more than any real deployment. */
const MAX_USAGE_BUSINESSES = 500;

/**
 * The gateway's Prometheus metrics, in a registry of its own (so several gateways in one process,
 * as in tests, never share counters). Labels carry account ids and outcomes, never tokens.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly roundTrips = new Counter({
    name: 'igpg_upstream_round_trips_total',
    help: 'HTTP round trips to the Graph API, by kind of call (batch, single, ids, me) and HTTP status (or network_error, too_large).',
    labelNames: ['account', 'kind', 'status'] as const,
    registers: [this.registry],
  });

  readonly profilesRead = new Counter({
    name: 'igpg_upstream_profiles_total',
    help: 'Profiles asked from the Graph API, by result (ok or gateway error code).',
    labelNames: ['account', 'result'] as const,
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'igpg_upstream_batch_size',
    help: 'Distinct ids per upstream group.',
    labelNames: ['account', 'strategy'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 40, 50],
    registers: [this.registry],
  });

  readonly upstreamLatency = new Histogram({
    name: 'igpg_upstream_request_seconds',
    help: 'Duration of one HTTP round trip to the Graph API.',
    labelNames: ['account', 'kind'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'igpg_cache_lookups_total',
    help: 'Cache lookups by layer (response: whole responses; memory, redis: profiles) and result (hit, miss, partial, stale, negative).',
    labelNames: ['account', 'layer', 'result'] as const,
    registers: [this.registry],
  });

  readonly warmPathAnswers = new Counter({
    name: 'igpg_warm_path_answers_total',
    help: 'GraphQL answers built by the warm path (a plain profile read, every person fresh in memory) without the GraphQL pipeline.',
    labelNames: ['account'] as const,
    registers: [this.registry],
  });

  readonly staleServed = new Counter({
    name: 'igpg_cache_stale_served_total',
    help: 'Stale profiles served, by reason (revalidate: stale-while-revalidate; error: stale-if-error).',
    labelNames: ['account', 'reason'] as const,
    registers: [this.registry],
  });

  readonly cacheErrors = new Counter({
    name: 'igpg_cache_errors_total',
    help: 'Cache store operations that failed or timed out (the query went on without them).',
    labelNames: ['layer', 'operation'] as const,
    registers: [this.registry],
  });

  readonly coalescedWaits = new Counter({
    name: 'igpg_coalesced_waits_total',
    help: 'Lookups that joined a fetch already queued or in flight instead of starting their own.',
    labelNames: ['account'] as const,
    registers: [this.registry],
  });

  readonly accountUsage = new Gauge({
    name: 'igpg_account_usage_percent',
    help: 'Highest figure of the latest X-App-Usage / X-Business-Use-Case-Usage seen for an account (compared with USAGE_THROTTLE_PERCENT).',
    labelNames: ['account'] as const,
    registers: [this.registry],
  });

  readonly pauses = new Counter({
    name: 'igpg_account_pauses_total',
    help: 'Times the gateway paused calls to Meta for an account, by reason (usage: threshold crossed; throttled: Meta throttled a call).',
    labelNames: ['account', 'reason'] as const,
    registers: [this.registry],
  });

  readonly pausedProfiles = new Counter({
    name: 'igpg_account_paused_profiles_total',
    help: 'Profile lookups answered RATE_LIMITED without calling Meta because the account was paused.',
    labelNames: ['account'] as const,
    registers: [this.registry],
  });

  readonly upstreamShed = new Counter({
    name: 'igpg_upstream_shed_total',
    help: 'Upstream calls refused a concurrency slot (queue_full: UPSTREAM_QUEUE_LIMIT; wait_timeout: UPSTREAM_QUEUE_WAIT_MS).',
    labelNames: ['account', 'reason'] as const,
    registers: [this.registry],
  });

  readonly appUsage = new Gauge({
    name: 'igpg_graph_app_usage_percent',
    help: 'Latest X-App-Usage figures from Meta (percent of the app allowance), by the account whose call brought them.',
    labelNames: ['account', 'metric'] as const,
    registers: [this.registry],
  });

  readonly businessUsage = new Gauge({
    name: 'igpg_graph_business_usage_percent',
    help: 'Latest X-Business-Use-Case-Usage figures from Meta, per business id.',
    labelNames: ['business', 'metric'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'igpg_webhook_deliveries_total',
    help: 'Webhook POSTs, each counted once: accepted (answered 200) or rejected (by reason). Redelivered items are counted in igpg_webhook_events_total{result="duplicate"}.',
    labelNames: ['result', 'reason'] as const,
    registers: [this.registry],
  });

  readonly webhookEvents = new Counter({
    name: 'igpg_webhook_events_total',
    help: 'Webhook messaging items by account (a configured id, else "unknown"), type (message, postback, optin, referral, reaction, read, comment, other) and result (processed, duplicate, echo, unknown_account, other_app, invalid, ignored).',
    labelNames: ['account', 'type', 'result'] as const,
    registers: [this.registry],
  });

  readonly webhookPrefetches = new Counter({
    name: 'igpg_webhook_prefetched_profiles_total',
    help: 'Profiles prefetched after a webhook, by account and result (ok or gateway error code).',
    labelNames: ['account', 'result'] as const,
    registers: [this.registry],
  });

  readonly prefetchDropped = new Counter({
    name: 'igpg_prefetch_dropped_total',
    help: 'Webhook senders not prefetched, by account and reason (queue_full: over PREFETCH_QUEUE_LIMIT; paused: the account is paused or at its usage threshold; shutdown).',
    labelNames: ['account', 'reason'] as const,
    registers: [this.registry],
  });

  readonly replicaEvents = new Counter({
    name: 'igpg_replica_events_total',
    help: 'Coordination between replicas through Redis, by event (claimed, shared: answered by another replica\'s fetch, wait_timeout, not_covered, uncoordinated: Redis unavailable, pool_opened, pool_joined: a partial group pooled into another replica\'s trip, pool_timeout, invalidated, pause_adopted, batch_refusal_adopted, bus_invalid, bus_too_large).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly refreshAheadReads = new Counter({
    name: 'igpg_refresh_ahead_profiles_total',
    help: 'Profiles of active contacts re-read in the background before they stopped being fresh, by account and result (ok or gateway error code).',
    labelNames: ['account', 'result'] as const,
    registers: [this.registry],
  });

  readonly refreshAheadGroups = new Counter({
    name: 'igpg_refresh_ahead_groups_total',
    help: 'Groups (≤50 ids, one upstream trip) sent by refresh-ahead, by account.',
    labelNames: ['account'] as const,
    registers: [this.registry],
  });

  readonly refreshAheadSkipped = new Counter({
    name: 'igpg_refresh_ahead_skipped_total',
    help: 'Profiles due for refresh-ahead but not refreshed, by account and reason (usage: at or over REFRESH_AHEAD_MAX_USAGE_PERCENT; paused; busy: lookups hold every upstream slot of the account; tick_limit: over REFRESH_AHEAD_MAX_IDS_PER_TICK, left to the next tick; other_replica: another replica claimed it).',
    labelNames: ['account', 'reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'igpg_' });
  }

  /** Business ids seen in usage headers; past MAX_USAGE_BUSINESSES new ones are not labelled. */
  private readonly usageBusinesses = new Set<string>();

  /** Records Meta's usage figures (known keys, a bounded set of business ids) from `account`'s call. */
  recordUsage(usage: UsageReport, account: string): void {
    for (const [metric, value] of Object.entries(usage.app)) this.appUsage.set({ account, metric }, value);
    for (const { businessId, figures } of usage.business) {
      if (!this.usageBusinesses.has(businessId)) {
        if (this.usageBusinesses.size >= MAX_USAGE_BUSINESSES) continue;
        this.usageBusinesses.add(businessId);
      }
      for (const [metric, value] of Object.entries(figures)) this.businessUsage.set({ business: businessId, metric }, value);
    }
  }

  /**
   * Moves the series of the "pending" stand-in (calls made before the account id was learned) to
   * the real id: counters are added there, other series dropped, so no start-up series stays forever.
   */
  async renameAccount(from: string, to: string): Promise<void> {
    for (const field of Object.values(this) as unknown[]) {
      if (!(field instanceof Counter || field instanceof Gauge || field instanceof Histogram)) continue;
      const metric = field as unknown as LabelledMetric;
      for (const { labels, value } of (await metric.get()).values) {
        if (labels['account'] !== from) continue;
        const { le: _bucket, ...series } = labels;
        metric.remove(series);
        if (field instanceof Counter) (field as unknown as LabelledMetric & { inc(labels: Record<string, string | number>, value: number): void }).inc({ ...series, account: to }, value);
      }
    }
  }
}

/** What every labelled prom-client metric offers, whatever its label names. */
interface LabelledMetric {
  get(): Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }>;
  remove(labels: Record<string, string | number>): void;
}
