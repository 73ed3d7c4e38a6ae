import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * Estimated heap per character of query text for a parsed, validated document: the AST, its
 * locations and the token list they keep alive (bench/memory.ts). Apollo's default estimate, the
 * document's JSON length, counts a fraction of that, so its "30 MiB" store held hundreds of MiB.
 */
const HEAP_BYTES_PER_QUERY_CHAR = 100;
/** Bytes per stored entry besides its text: the LRU's bookkeeping and the key's string header. */
const ENTRY_OVERHEAD = 200;

/** Apollo's KeyValueCache over a byte-bounded LRU (ttl in seconds, as Apollo passes it). */
class BoundedCache<V extends object | string> implements KeyValueCache<V> {
  private readonly lru: LRUCache<string, V>;

  constructor(maxBytes: number, sizeOf: (value: V, key: string) => number) {
    this.lru = new LRUCache<string, V>({ maxSize: maxBytes, sizeCalculation: (value, key) => Math.max(1, sizeOf(value, key)) });
  }

  async get(key: string): Promise<V | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: V, options?: KeyValueCacheSetOptions): Promise<void> {
    this.lru.set(key, value, options?.ttl ? { ttl: options.ttl * 1000 } : undefined);
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }
}

/** Apollo's document store, bounded by the documents' estimated heap (DOCUMENT_CACHE_MAX_BYTES). */
export function documentStore(maxBytes: number): KeyValueCache<DocumentNode> {
  return new BoundedCache<DocumentNode>(maxBytes, (document, key) => (document.loc?.end ?? 1_000) * HEAP_BYTES_PER_QUERY_CHAR + key.length * 2 + ENTRY_OVERHEAD);
}

/** Apollo's key-value cache (response cache, APQ), bounded in bytes (RESPONSE_CACHE_MAX_BYTES); strings count two bytes a character. */
export function responseStore(maxBytes: number): KeyValueCache<string> {
  return new BoundedCache<string>(maxBytes, (value, key) => (value.length + key.length) * 2 + ENTRY_OVERHEAD);
}
