import { describe, expect, it, vi } from 'vitest';
import { ProfileCache } from '../../src/profiles/cache.js';
import { createCacheStore, type CacheStore, type StoreWrite } from '../../src/profiles/cache-store.js';
import type { FreshnessPolicy } from '../../src/profiles/entry.js';
import type { ProfileSource } from '../../src/profiles/source.js';
import type { GraphField } from '../../src/graph/profile.js';
import type { ProfileOutcome, UpstreamFailure } from '../../src/graph/outcomes.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { ManualClock } from '../support/manual-clock.js';

const policy: FreshnessPolicy = { ttlMs: 60_000, staleWhileRevalidateMs: 30_000, staleIfErrorMs: 300_000, negativeTtlMs: 10_000, picMarginMs: 5_000 };
const unavailable: UpstreamFailure = { code: 'UPSTREAM_UNAVAILABLE', message: 'down', retryable: true, transient: true };
const consent: UpstreamFailure = { code: 'CONSENT_REQUIRED', message: 'no consent', retryable: false, transient: false };

/** Upstream that counts calls and answers what `answer` says for each id. */
class FakeUpstream implements ProfileSource {
  calls: string[][] = [];
  answer: (igsid: string) => ProfileOutcome = (igsid) => ({ ok: true, profile: { id: igsid, name: `n${this.calls.length}` } });
  async load(ids: readonly string[], _fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    this.calls.push([...ids]);
    return new Map(ids.map((id) => [id, this.answer(id)]));
  }
}

function setup() {
  const clock = new ManualClock();
  const metrics = new Metrics();
  const logger = createLogger({ level: 'silent' });
  const store = createCacheStore({ maxEntries: 100, redisTimeoutMs: 100, logger, metrics, clock });
  const upstream = new FakeUpstream();
  const cache = new ProfileCache('acct', 'p:acct', store, upstream, policy, metrics, logger, clock);
  return { clock, upstream, cache };
}

describe('ProfileCache with a manual clock', () => {
  it('serves from cache within the TTL, revalidates once in the background, then refetches', async () => {
    const { clock, upstream, cache } = setup();
    await cache.load(['1'], ['name']);
    await clock.advance(59_000);
    expect((await cache.load(['1'], ['name'])).get('1')).toMatchObject({ ok: true, profile: { name: 'n1' } });
    expect(upstream.calls).toHaveLength(1);
    await clock.advance(2_000);
    // Past the TTL, inside stale-while-revalidate: the old value at once, one refresh behind it.
    expect((await cache.load(['1'], ['name'])).get('1')).toMatchObject({ ok: true, profile: { name: 'n1' } });
    await clock.advance(0);
    expect(upstream.calls).toHaveLength(2);
    expect((await cache.load(['1'], ['name'])).get('1')).toMatchObject({ ok: true, profile: { name: 'n2' } });
  });

  it('stale-if-error serves an old profile with a notice while Meta fails, within its window only', async () => {
    const { clock, upstream, cache } = setup();
    await cache.load(['1'], ['name']);
    upstream.answer = () => ({ ok: false, failure: unavailable });
    await clock.advance(120_000);
    expect((await cache.load(['1'], ['name'])).get('1')).toMatchObject({ ok: true, stale: { reason: 'UPSTREAM_UNAVAILABLE', ageSeconds: 120 } });
    await clock.advance(300_000);
    expect((await cache.load(['1'], ['name'])).get('1')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_UNAVAILABLE' } });
  });

  it('remembers a refusal for the negative TTL, and forgetNegative drops it', async () => {
    const { clock, upstream, cache } = setup();
    upstream.answer = () => ({ ok: false, failure: consent });
    await cache.load(['1', '2'], ['name']);
    await clock.advance(9_999);
    await cache.load(['1', '2'], ['name']);
    expect(upstream.calls).toHaveLength(1);
    await cache.forgetNegative(['2']);
    await cache.load(['1', '2'], ['name']);
    expect(upstream.calls.at(-1)).toEqual(['2']);
    await clock.advance(1);
    await cache.load(['1'], ['name']);
    expect(upstream.calls.at(-1)).toEqual(['1']);
  });

  it('answers fetched profiles from memory without waiting for the slower layer; this process hears before the answer, replicas once it has them', async () => {
    const clock = new ManualClock();
    const metrics = new Metrics();
    const logger = createLogger({ level: 'silent' });
    const memory = createCacheStore({ maxEntries: 100, redisTimeoutMs: 100, logger, metrics, clock });
    // A store whose Redis part (after the memory write) lands only when released.
    let release!: () => void;
    const landed = new Promise<void>((resolve) => (release = resolve));
    const store: CacheStore = Object.assign(Object.create(memory) as CacheStore, {
      setMany: (writes: readonly StoreWrite[]) => {
        const memoryPart = memory.setMany(writes);
        return Promise.all([memoryPart, landed]).then(() => undefined);
      },
    });
    const cache = new ProfileCache('acct', 'p:acct', store, new FakeUpstream(), policy, metrics, logger, clock);
    // This process hears of the change before the lookup answers (so whole answers read before it
    // stop being served, and the one being computed stays valid); replicas once Redis has it.
    const heard: string[][] = [];
    const replicasHeard: string[][] = [];
    let answer: Map<string, ProfileOutcome> | undefined;
    cache.onStored = (igsids, written) => {
      heard.push(answer ? ['late'] : igsids);
      void written.then(() => replicasHeard.push(igsids));
    };
    void cache.load(['1', '2'], ['name']).then((result) => (answer = result));
    await vi.waitFor(() => expect(answer?.get('2')).toMatchObject({ ok: true, profile: { name: 'n1' } }), { timeout: 5_000 });
    expect(heard).toEqual([['1', '2']]);
    expect(replicasHeard).toEqual([]);
    release();
    await vi.waitFor(() => expect(replicasHeard).toEqual([['1', '2']]), { timeout: 5_000 });
  });
});
