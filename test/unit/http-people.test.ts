import { describe, expect, it } from 'vitest';
import { RECENT_CHANGES, RecentChanges } from '../../src/http/people.js';

const read = (entries: Array<[string, number]>) => new Map(entries);

describe('whole-answer invalidation bookkeeping (RecentChanges)', () => {
  it('an answer read before a change of one of its people counts as changed; read after, or another account’s, not', () => {
    const changes = new RecentChanges();
    const readAt = changes.now();
    changes.note('a', ['1']);
    expect(changes.changedSince('a', read([['1', readAt]]))).toBe(true);
    expect(changes.changedSince('a', read([['2', readAt]]))).toBe(false);
    expect(changes.changedSince('b', read([['1', readAt]]))).toBe(false);
    expect(changes.changedSince('a', read([['1', changes.now()]]))).toBe(false);
  });

  it(`remembers the ${RECENT_CHANGES} latest changes; an answer read before a forgotten one counts as changed`, () => {
    const changes = new RecentChanges();
    const old = changes.now();
    changes.note('a', ['0']);
    const recent = changes.now();
    for (let i = 1; i <= RECENT_CHANGES; i++) changes.note('a', [String(i)]);
    expect(changes.changedSince('someone', read([['else', old]]))).toBe(true);
    expect(changes.changedSince('someone', read([['else', recent]]))).toBe(false);
  });
});
