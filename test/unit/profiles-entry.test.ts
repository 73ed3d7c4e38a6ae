import { describe, expect, it } from 'vitest';
import {
  cacheEntrySchema,
  fieldState,
  freshProfileOf,
  freshUntil,
  mergeProfile,
  profileFrom,
  oldestFetch,
  selectionState,
  storeTtlMs,
  type CacheEntry,
  type FreshnessPolicy,
} from '../../src/profiles/entry.js';
import { ManualClock } from '../support/manual-clock.js';

const policy: FreshnessPolicy = { ttlMs: 60_000, staleWhileRevalidateMs: 30_000, staleIfErrorMs: 300_000, negativeTtlMs: 10_000, picMarginMs: 5_000 };
const pic = (expiryMs: number) => `https://cdn.example/p.jpg?oe=${Math.floor(expiryMs / 1000).toString(16).toUpperCase()}&x=1`;

describe('freshness maths', () => {
  it('a field is fresh for the TTL, then revalidate, then stale (stale-if-error only), then missing', async () => {
    const clock = new ManualClock();
    const entry = mergeProfile(undefined, { id: '1', name: 'Ada' }, ['name'], clock.now());
    const state = () => fieldState(entry, 'name', policy, clock.now());
    expect(state()).toBe('fresh');
    await clock.advance(59_999);
    expect(state()).toBe('fresh');
    await clock.advance(1);
    expect(state()).toBe('revalidate');
    await clock.advance(30_000);
    expect(state()).toBe('stale');
    await clock.advance(269_999);
    expect(state()).toBe('stale');
    await clock.advance(1);
    expect(state()).toBe('missing');
    expect(fieldState(entry, 'username', policy, clock.now())).toBe('missing');
  });

  it('a picture is never served at or past its CDN expiry minus the margin, not even on error', async () => {
    const clock = new ManualClock();
    const entry = mergeProfile(undefined, { id: '1', profile_pic: pic(clock.now() + 20_000) }, ['profile_pic'], clock.now());
    expect(fieldState(entry, 'profile_pic', policy, clock.now())).toBe('fresh');
    expect(freshUntil(entry, ['profile_pic'], policy)).toBe(Math.floor((clock.now() + 20_000) / 1000) * 1000 - 5_000);
    await clock.advance(15_000);
    expect(fieldState(entry, 'profile_pic', policy, clock.now())).toBe('missing');
  });

  it('a selection is as good as its worst field; freshUntil is the earliest TTL end', async () => {
    const clock = new ManualClock();
    const first = mergeProfile(undefined, { id: '1', name: 'Ada' }, ['name'], clock.now());
    await clock.advance(40_000);
    const both = mergeProfile(first, { id: '1', username: 'ada' }, ['username'], clock.now());
    await clock.advance(30_000);
    expect(selectionState(both, ['username'], policy, clock.now())).toBe('fresh');
    expect(selectionState(both, ['name', 'username'], policy, clock.now())).toBe('revalidate');
    expect(freshUntil(both, ['name', 'username'], policy)).toBe(both.fields.name!.at + 60_000);
    expect(oldestFetch(both, ['name', 'username'], clock.now())).toBe(both.fields.name!.at);
    expect(storeTtlMs(policy)).toBe(360_000);
  });

  it('a new profile replaces a remembered refusal instead of merging into it', () => {
    const refusal: CacheEntry = {
      fields: {},
      negative: { failure: { code: 'CONSENT_REQUIRED', message: 'no', retryable: false, transient: false }, at: 1 },
    };
    expect(mergeProfile(refusal, { id: '1', name: 'Ada' }, ['name'], 2)).toEqual({ fields: { name: { value: 'Ada', at: 2 } } });
  });
});

describe('cacheEntrySchema (what a store may hand back)', () => {
  it('accepts profiles and refusals as the cache writes them', () => {
    const profile = mergeProfile(undefined, { id: '1', name: 'Ada', follower_count: 3, is_verified_user: null }, ['name', 'follower_count', 'is_verified_user'], 5);
    expect(cacheEntrySchema.safeParse(JSON.parse(JSON.stringify(profile))).success).toBe(true);
    const refusal = { fields: {}, negative: { failure: { code: 'USER_BLOCKED', message: 'blocked', retryable: false, transient: false }, at: 5 } };
    expect(cacheEntrySchema.safeParse(refusal).success).toBe(true);
  });

  it.each([
    ['an empty object', {}],
    ['a string', 'a string'],
    ['an array', [1, 2]],
    ['null', null],
    ['a field of the wrong type', { fields: { follower_count: { value: 'many', at: 1 } } }],
    ['a field without its time', { fields: { name: { value: 'Ada' } } }],
    ['a refusal with a code that is never remembered', { fields: {}, negative: { failure: { code: 'UPSTREAM_ERROR', message: 'x', retryable: true, transient: false }, at: 1 } }],
    ['an over-long string', { fields: { name: { value: 'x'.repeat(5000), at: 1 } } }],
  ])('refuses %s', (_, value) => {
    expect(cacheEntrySchema.safeParse(value).success).toBe(false);
  });
});

describe('freshProfileOf (the warm path\'s one-pass read)', () => {
  it('gives exactly what selectionState + profileFrom + freshUntil give, over 5,000 random entries and selections', () => {
    const all = ['name', 'username', 'profile_pic', 'follower_count', 'is_verified_user'] as const;
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const now = 1_800_000_000_000;
    let fresh = 0;
    for (let n = 0; n < 5000; n++) {
      const entry: CacheEntry = { fields: {} };
      for (const field of all) {
        if (random() < 0.25) continue;
        // Fetched up to 70 s ago, or (another replica's clock) a little in the future.
        const at = now - Math.floor(random() * 72_000) + 2_000;
        const value = field === 'profile_pic' ? (random() < 0.2 ? null : pic(now + Math.floor(random() * 20_000) - 2_000)) : field === 'follower_count' ? n : `v${n}`;
        Object.assign(entry.fields, { [field]: { value, at } });
      }
      const fields = all.filter(() => random() < 0.4);
      const expected = selectionState(entry, fields, policy, now) === 'fresh' ? { ...profileFrom(entry, '42', fields), freshUntil: freshUntil(entry, fields, policy) } : undefined;
      const got = freshProfileOf(entry, '42', fields, policy, now);
      expect(got, JSON.stringify({ entry, fields })).toEqual(expected);
      if (got) fresh++;
    }
    // Both outcomes are well represented.
    expect(fresh).toBeGreaterThan(500);
    expect(fresh).toBeLessThan(4500);
  });
});
