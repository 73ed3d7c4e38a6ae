import { LRUCache } from 'lru-cache';

/** Bytes of whole responses (and persisted queries) kept, like Apollo's default in-memory cache. */
export const RESPONSE_CACHE_BYTES = 30 * 1024 * 1024;
const IDS_IN_ANSWER = /"id":"([0-9]{1,20})"/g;

/**
 * Apollo's whole-response cache, indexed by the IGSIDs each stored answer holds, so a change to one
 * person (announced by any replica) drops exactly the answers that show them. The index lives and
 * dies with the entries (LRU eviction, expiry and deletion all unindex).
 */
export class IndexedResponseCache {
  private readonly byId = new Map<string, Set<string>>();
  private readonly entries: LRUCache<string, string>;

  constructor(maxBytes = RESPONSE_CACHE_BYTES) {
    this.entries = new LRUCache<string, string>({
      maxSize: maxBytes,
      sizeCalculation: (value, key) => Math.max(1, value.length + key.length),
      dispose: (value, key) => this.unindex(key, value),
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttl = options?.ttl ? options.ttl * 1000 : undefined;
    this.entries.set(key, value, ttl ? { ttl } : {});
    for (const id of idsIn(value)) {
      const keys = this.byId.get(id) ?? new Set<string>();
      keys.add(key);
      this.byId.set(id, keys);
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }

  /** Drops every stored answer that shows one of `ids`; returns how many. */
  dropIds(ids: readonly string[]): number {
    let dropped = 0;
    for (const id of ids) for (const key of [...(this.byId.get(id) ?? [])]) if (this.entries.delete(key)) dropped++;
    return dropped;
  }

  private unindex(key: string, value: string): void {
    for (const id of idsIn(value)) {
      const keys = this.byId.get(id);
      keys?.delete(key);
      if (keys && !keys.size) this.byId.delete(id);
    }
  }
}

function idsIn(value: string): Set<string> {
  return new Set([...value.matchAll(IDS_IN_ANSWER)].map((match) => match[1]!));
}
