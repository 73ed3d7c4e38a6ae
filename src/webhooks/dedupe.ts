import { LRUCache } from 'lru-cache';
import type { CacheStore } from '../profiles/cache-store.js';

/**
 * Remembers webhook items already handled, so Meta's redeliveries are skipped. A bounded local
 * LRU is marked synchronously (two copies of one item in one delivery, or two concurrent
 * deliveries, can't both pass); the cache store (Redis when configured) carries the memory across
 * restarts and instances. Without a cache store (`CACHE_ENABLED=false`) the local LRU alone serves.
 */
export class WebhookDedupe {
  private readonly local: LRUCache<string, true>;

  constructor(
    private readonly store: CacheStore | undefined,
    private readonly ttlMs: number,
    maxLocalEntries = 100_000,
  ) {
    this.local = new LRUCache<string, true>({ max: maxLocalEntries, ttl: ttlMs });
  }

  /** True the first time `key` is claimed within the TTL; false for a redelivery. */
  async claim(key: string): Promise<boolean> {
    if (this.local.has(key)) return false;
    this.local.set(key, true);
    if (!this.store) return true;
    // Atomic across instances (SET NX): of two replicas receiving one redelivery at once, one wins.
    // Without an answer from Redis this process decides alone (its local LRU already did).
    return (await this.store.claim(key, this.ttlMs)) ?? true;
  }
}
