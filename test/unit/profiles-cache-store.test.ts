import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCacheStore, estimateBytes } from '../../src/profiles/cache-store.js';
import { cacheEntrySchema, type CacheEntry } from '../../src/profiles/entry.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { ManualClock } from '../support/manual-clock.js';

const TTL = 60_000;
const entry = (name: string): CacheEntry => ({ fields: { name: { value: name, at: 1 }, follower_count: { value: 12, at: 1 } } });

function store(maxBytes?: number) {
  return createCacheStore({ maxEntries: 10_000, maxBytes, redisTimeoutMs: 100, logger: createLogger({ level: 'silent' }), metrics: new Metrics(), clock: new ManualClock() });
}

afterEach(() => vi.restoreAllMocks());

describe('the memory layer of the cache store', () => {
  it('answers a memory hit as it was written, without parsing it again', async () => {
    const memory = store();
    const written = entry('Ada');
    await memory.setMany([{ key: 'k:1', value: written, ttlMs: TTL }]);
    const parse = vi.spyOn(cacheEntrySchema, 'safeParse');
    const [hit] = await memory.getMany(['k:1'], cacheEntrySchema);
    expect(hit).toEqual({ value: written, layer: 'memory' });
    expect(hit!.value).toBe(written);
    expect(parse).not.toHaveBeenCalled();
  });

  it('keeps at most maxBytes of estimated keys and values: the least recently used go first', async () => {
    const one = estimateBytes('k:000') + estimateBytes(entry('x'.repeat(100)));
    const memory = store(10 * one);
    for (let n = 0; n < 30; n++) await memory.setMany([{ key: `k:${String(n).padStart(3, '0')}`, value: entry('x'.repeat(100)), ttlMs: TTL }]);
    const hits = await memory.getMany(Array.from({ length: 30 }, (_, n) => `k:${String(n).padStart(3, '0')}`), cacheEntrySchema);
    const kept = hits.flatMap((hit, n) => (hit ? [n] : []));
    expect(kept).toEqual(Array.from({ length: 10 }, (_, n) => 20 + n));
  });

  it('does not keep an entry larger than the whole budget, and the others stay', async () => {
    const memory = store(4096);
    await memory.setMany([{ key: 'small', value: entry('Ada'), ttlMs: TTL }]);
    await memory.setMany([{ key: 'huge', value: entry('x'.repeat(4096)), ttlMs: TTL }]);
    const [small, huge] = await memory.getMany(['small', 'huge'], cacheEntrySchema);
    expect(small?.value).toEqual(entry('Ada'));
    expect(huge).toBeUndefined();
  });

  it('estimates strings by length and objects by their members', () => {
    expect(estimateBytes('abcd')).toBeGreaterThan(estimateBytes('ab'));
    expect(estimateBytes(entry('x'.repeat(1000)))).toBeGreaterThan(2000);
    // A value nested beyond the depth limit still counts, without walking it.
    let deep: unknown = 'leaf';
    for (let n = 0; n < 100; n++) deep = { deep };
    expect(estimateBytes(deep)).toBeGreaterThan(1024);
  });
});
