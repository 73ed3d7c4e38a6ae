import { LRUCache } from 'lru-cache';
import { z } from 'zod';
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
    // Across instances this is check-then-set, not atomic: two instances receiving the same
    // redelivery at the same instant may both prefetch, which is harmless (prefetch is idempotent).
    if (await this.store.get(key, z.literal(1))) return false;
    await this.store.set(key, 1, this.ttlMs);
    return true;
  }
}
