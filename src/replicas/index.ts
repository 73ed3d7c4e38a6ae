import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { GroupFetcher } from '../profiles/batcher.js';
import type { CacheStore } from '../profiles/cache-store.js';
import { ReplicaInvalidation } from './invalidation.js';
import { ReplicaLink } from './link.js';
import { PooledFetcher } from './pool.js';

/** What a process shares with the other replicas of one Redis (absent without REDIS_URL). */
export interface Replicas {
  link: ReplicaLink;
  invalidation: ReplicaInvalidation;
  leaseMs: number;
  waitMs: number;
  /** The account's fetcher, its partial groups pooled with the other replicas' (as is when REPLICA_POOL_WINDOW_MS=0). */
  pooled(fetcher: GroupFetcher, account: string, namespace: string, clock?: Clock): GroupFetcher;
}

export function createReplicas(cache: Config['cache'], store: CacheStore | undefined, logger: Logger, metrics: Metrics): Replicas | undefined {
  if (!cache.redisUrl || !store || !cache.replicaCoordination) return undefined;
  const link = new ReplicaLink({ url: cache.redisUrl, keyPrefix: cache.keyPrefix, timeoutMs: cache.redisTimeoutMs, logger, metrics });
  const invalidation = new ReplicaInvalidation(link, cache.keyPrefix, store, metrics);
  const pooled = (fetcher: GroupFetcher, account: string, namespace: string, clock?: Clock) =>
    cache.replicaPoolWindowMs > 0
      ? new PooledFetcher(fetcher, link, { account, namespace, windowMs: cache.replicaPoolWindowMs, waitMs: cache.replicaWaitMs, redisTimeoutMs: cache.redisTimeoutMs, metrics, clock })
      : fetcher;
  return { link, invalidation, leaseMs: cache.replicaLeaseMs, waitMs: cache.replicaWaitMs, pooled };
}
