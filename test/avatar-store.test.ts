import { describe, expect, it } from 'vitest';
import { AvatarStore, type StoredAvatar } from '../src/avatars/store.js';
import { ManualClock } from './support/manual-clock.js';

const avatar = (bytes: number, expiresAt: number): StoredAvatar => ({
  source: 'instagram',
  contentType: 'image/png',
  bytes: Buffer.alloc(bytes, 1),
  etag: '"e"',
  expiresAt,
});

describe('avatar bytes store (memory)', () => {
  it('is bounded by bytes: least recently used pictures go first', async () => {
    const clock = new ManualClock();
    const store = new AvatarStore({ maxBytes: 10_000, maxValueBytes: 5000, shared: undefined, clock });
    for (let i = 0; i < 10; i++) await store.set(`k${i}`, avatar(2000, clock.now() + 60_000));
    expect(store.memoryBytes()).toBeLessThanOrEqual(10_000);
    expect(await store.get('k9')).toBeDefined();
    expect(await store.get('k0')).toBeUndefined();
  });

  it('keeps a picture only until its expiry, and never stores one already expired', async () => {
    const clock = new ManualClock();
    const store = new AvatarStore({ maxBytes: 10_000, maxValueBytes: 5000, shared: undefined, clock });
    await store.set('a', avatar(100, clock.now() + 1000));
    await store.set('gone', avatar(100, clock.now()));
    expect(await store.get('gone')).toBeUndefined();
    await clock.advance(999);
    expect(await store.get('a')).toBeDefined();
    await clock.advance(1);
    expect(await store.get('a')).toBeUndefined();
  });

  it('AVATAR_CACHE_MAX_BYTES=0 keeps nothing', async () => {
    const clock = new ManualClock();
    const store = new AvatarStore({ maxBytes: 0, maxValueBytes: 5000, shared: undefined, clock });
    await store.set('a', avatar(100, clock.now() + 1000));
    expect(await store.get('a')).toBeUndefined();
  });
});
