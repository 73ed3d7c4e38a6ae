import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { GatewayContext } from '../schema/context.js';
import { PeopleIndex, personOf, type RecentChanges } from './people.js';

/** Bytes an entry costs besides its key and text: LRU bookkeeping, and per person its index slot. */
const ENTRY_OVERHEAD = 200;
const PERSON_OVERHEAD = 100;

interface Stored {
  value: string;
  people: string[];
}

/**
 * The store behind Apollo's whole-response cache: bounded in bytes (RESPONSE_CACHE_MAX_BYTES), TTLs
 * on the gateway's clock, and every answer indexed by the people it shows, so a change to one of
 * them (webhook, refetch, purge; with replicas, on any replica) drops it.
 */
export class ResponseCache implements KeyValueCache<string> {
  private readonly entries: LRUCache<string, Stored>;
  private readonly index = new PeopleIndex();
  /** The people of the answer whose key was just generated: the plugin calls `set` right after, synchronously. */
  private next: { key: string; people: Array<[string, number]> } | undefined;

  constructor(
    maxBytes: number,
    clock: Clock,
    private readonly changes: RecentChanges,
  ) {
    this.entries = new LRUCache<string, Stored>({
      maxSize: maxBytes,
      sizeCalculation: (stored, key) => (stored.value.length + key.length) * 2 + ENTRY_OVERHEAD + stored.people.length * PERSON_OVERHEAD,
      perf: { now: () => clock.now() },
      dispose: (stored, key) => this.index.remove(key, stored.people),
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
    const { account, shown } = context;
    this.next = { key, people: [...shown].map(([igsid, readAt]) => [personOf(account.id, igsid), readAt]) };
    return key;
  }

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key)?.value;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    // The plugin stores under a prefix (`fqc:`) of the key it generated.
    const next = this.next && key.endsWith(this.next.key) ? this.next : undefined;
    this.next = undefined;
    // Apollo gives TTLs in seconds; an entry without one would never expire, so it is not kept. Nor an
    // answer whose people changed while it was computed, or whose people are unknown.
    if (!options?.ttl || !next || this.changes.changedSince(next.people)) return;
    const people = next.people.map(([person]) => person);
    this.entries.set(key, { value, people }, { ttl: options.ttl * 1000 });
    if (this.entries.has(key)) this.index.add(key, people);
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }

  /** Drops every answer showing one of `people` (see `personOf`). */
  drop(people: readonly string[]): void {
    for (const key of this.index.showing(people)) this.entries.delete(key);
  }
}
