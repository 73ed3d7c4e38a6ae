import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/profiles/replay.js';
import { IndexedResponseCache } from '../../src/replicas/response-index.js';

describe('replay buffer (durable writes kept while Redis is away)', () => {
  it('keeps the latest operation per key, at most maxKeys, dropping (and counting) the oldest', () => {
    const dropped: number[] = [];
    const buffer = new ReplayBuffer(3, (count) => dropped.push(count));
    buffer.add([
      { kind: 'set', key: 'a', value: 1, expiresAt: 10 },
      { kind: 'set', key: 'b', value: 1, expiresAt: 10 },
    ]);
    buffer.add([{ kind: 'set', key: 'a', value: 2, expiresAt: 10 }]);
    buffer.add([
      { kind: 'del', key: 'c' },
      { kind: 'set', key: 'd', value: 1, expiresAt: 10 },
    ]);
    expect(dropped).toEqual([1]);
    expect(buffer.take().map((op) => op.key)).toEqual(['a', 'c', 'd']);
    expect(buffer.size).toBe(0);
  });
});

describe('indexed whole-response cache', () => {
  it('drops exactly the answers that show a person, and unindexes what it drops', async () => {
    const cache = new IndexedResponseCache(10_000);
    await cache.set('q1', JSON.stringify({ data: { instagramUser: { id: '111', name: 'A' } } }), { ttl: 60 });
    await cache.set('q2', JSON.stringify({ data: { instagramUsers: [{ id: '111' }, { id: '222' }] } }));
    await cache.set('q3', JSON.stringify({ data: { instagramUser: { id: '333' } } }));
    expect(cache.dropIds(['111'])).toBe(2);
    expect(await cache.get('q1')).toBeUndefined();
    expect(await cache.get('q2')).toBeUndefined();
    expect(await cache.get('q3')).toBeDefined();
    expect(cache.dropIds(['222'])).toBe(0);
  });

  it('is bounded in bytes: the least recently used answers go first', async () => {
    const cache = new IndexedResponseCache(100);
    await cache.set('old', JSON.stringify({ id: '1', pad: 'x'.repeat(40) }));
    await cache.set('new', JSON.stringify({ id: '2', pad: 'x'.repeat(40) }));
    await cache.set('newest', JSON.stringify({ id: '3', pad: 'x'.repeat(40) }));
    expect(await cache.get('old')).toBeUndefined();
    expect(await cache.get('newest')).toBeDefined();
    expect(cache.dropIds(['1'])).toBe(0);
  });
});
