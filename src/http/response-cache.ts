import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { GatewayContext } from '../schema/context.js';
import type { RecentChanges } from './people.js';

/** Bytes an entry costs besides its key and text: LRU bookkeeping, and per person shown its map slot. */
const ENTRY_OVERHEAD = 200;
const PERSON_OVERHEAD = 100;

interface Stored {
  value: string;
  account: string;
  /** The people the answer shows, each with the change epoch it was read at (RecentChanges). */
  shown: GatewayContext['shown'];
}

/**
 * The store behind Apollo's whole-response cache: bounded in bytes (RESPONSE_CACHE_MAX_BYTES), TTLs
 * on the gateway's clock, and every answer served only while none of the people it shows changed
 * (webhook, refetch, purge; with replicas, on any replica).
 */
export class ResponseCache implements KeyValueCache<string> {
  private readonly entries: LRUCache<string, Stored>;
  /** The people of the answer whose key was just generated: the plugin calls `set` right after, synchronously. */
  private next: { key: string; account: string; shown: GatewayContext['shown'] } | undefined;

  constructor(
    maxBytes: number,
    clock: Clock,
    private readonly changes: RecentChanges,
  ) {
    this.entries = new LRUCache<string, Stored>({
      maxSize: maxBytes,
      sizeCalculation: (stored, key) => (stored.value.length + key.length) * 2 + ENTRY_OVERHEAD + stored.shown.size * PERSON_OVERHEAD,
      perf: { now: () => clock.now() },
    });
  }

  /**
   * The plugin's `generateCacheKey`: a digest of the key data (its default `JSON.stringify` key throws
   * on values nested thousands deep: then a key nobody asks again). Notes the answer's people for `set`.
   */
  keyFor(context: GatewayContext, keyData: unknown): string {
    let key: string;
    try {
      key = createHash('sha256').update(JSON.stringify(keyData)).digest('hex');
    } catch {
      key = `uncacheable:${randomUUID()}`;
    }
    this.next = { key, account: context.account.id, shown: context.shown };
    return key;
  }

  async get(key: string): Promise<string | undefined> {
    const stored = this.entries.get(key);
    if (!stored || !this.changes.changedSince(stored.account, stored.shown)) return stored?.value;
    this.entries.delete(key);
    return undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    // The plugin stores under a prefix (`fqc:`) of the key it generated.
    const next = this.next && key.endsWith(this.next.key) ? this.next : undefined;
    this.next = undefined;
    // Apollo gives TTLs in seconds; an entry without one would never expire, so it is not kept. Nor
    // one whose people are unknown.
    if (!options?.ttl || !next) return;
    this.entries.set(key, { value, account: next.account, shown: next.shown }, { ttl: options.ttl * 1000 });
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }
}
