import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

/** Apollo's own default bound for its in-memory cache: 30 MiB of serialised responses. */
const MAX_CACHED_CHARS = 30 * 2 ** 20;

/**
 * The store behind Apollo's whole-response cache: bounded like Apollo's default, but its TTLs
 * follow the gateway's clock, so a response lives exactly as long as the profiles in it.
 */
export function createResponseCache(clock: Clock) {
  const entries = new LRUCache<string, string>({
    maxSize: MAX_CACHED_CHARS,
    sizeCalculation: (value) => Math.max(1, value.length),
    perf: { now: () => clock.now() },
  });
  return {
    get: async (key: string) => entries.get(key),
    async set(key: string, value: string, options?: { ttl?: number | null }) {
      // Apollo gives TTLs in seconds; an entry without one would never expire, so it is not kept.
      if (options?.ttl) entries.set(key, value, { ttl: options.ttl * 1000 });
    },
    delete: async (key: string) => entries.delete(key),
  };
}
