import { describe, expect, it } from 'vitest';
import { PeopleIndex, RECENT_CHANGES, RecentChanges } from '../../src/http/people.js';

describe('whole-answer invalidation bookkeeping', () => {
  it('an answer read before a change of one of its people counts as changed; read after, it does not', () => {
    const changes = new RecentChanges();
    const readAt = changes.now();
    changes.note(['a\n1']);
    expect(changes.changedSince([['a\n1', readAt]])).toBe(true);
    expect(changes.changedSince([['a\n2', readAt]])).toBe(false);
    expect(changes.changedSince([['b\n1', readAt]])).toBe(false);
    expect(changes.changedSince([['a\n1', changes.now()]])).toBe(false);
  });

  it(`remembers the ${RECENT_CHANGES} latest changes; an answer older than a forgotten one counts as changed`, () => {
    const changes = new RecentChanges();
    const old = changes.now();
    changes.note(['a\n0']);
    const recent = changes.now();
    for (let i = 1; i <= RECENT_CHANGES; i++) changes.note([`a\n${i}`]);
    expect(changes.changedSince([['someone\nelse', old]])).toBe(true);
    expect(changes.changedSince([['someone\nelse', recent]])).toBe(false);
  });

  it('finds the answers showing a person, and forgets removed ones', () => {
    const index = new PeopleIndex();
    index.add('k1', ['a\n1', 'a\n2']);
    index.add('k2', ['a\n2']);
    expect(index.showing(['a\n2']).sort()).toEqual(['k1', 'k2']);
    index.remove('k1', ['a\n1', 'a\n2']);
    expect(index.showing(['a\n1', 'a\n2'])).toEqual(['k2']);
  });
});
