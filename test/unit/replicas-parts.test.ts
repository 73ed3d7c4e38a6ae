import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/profiles/replay.js';

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
