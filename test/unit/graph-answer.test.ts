import { describe, expect, it } from 'vitest';
import { outcomeOf } from '../../src/graph/answer.js';
import type { UsageReport } from '../../src/graph/usage.js';

const NO_USAGE: UsageReport = { app: {}, business: [], percent: undefined, waitSeconds: undefined };
const NOW = Date.UTC(2026, 11, 1);
const oe = (ms: number) => Math.floor(ms / 1000).toString(16).toUpperCase();
const read = (body: unknown, id = '42') => outcomeOf(200, NO_USAGE, body, id, NOW);

describe('outcomeOf: Graph answers validated field by field', () => {
  it('keeps well-typed fields and the asked id', () => {
    const pic = `https://scontent.cdninstagram.com/v/x.jpg?oe=${oe(NOW + 3 * 86_400_000)}`;
    expect(read({ id: '42', username: 'ana', follower_count: 3, is_verified_user: false, profile_pic: pic, extra: 1 })).toEqual({
      ok: true,
      profile: { id: '42', fetchedAt: NOW, username: 'ana', follower_count: 3, is_verified_user: false, profile_pic: pic },
    });
  });

  it('a wrong-typed field is left out and listed in `invalid`', () => {
    const outcome = read({ id: '42', username: 'ana', follower_count: '3', is_user_follow_business: 'yes', name: ['x'] });
    expect(outcome).toEqual({ ok: true, profile: { id: '42', fetchedAt: NOW, username: 'ana' }, invalid: ['name', 'follower_count', 'is_user_follow_business'] });
  });

  it('a profile_pic whose oe= is not a sane expiry (FFFFFFFFFFFF: year 10 889) is invalid', () => {
    const outcome = read({ id: '42', profile_pic: 'https://scontent.cdninstagram.com/v/x.jpg?oe=FFFFFFFFFFFF' });
    expect(outcome).toEqual({ ok: true, profile: { id: '42', fetchedAt: NOW }, invalid: ['profile_pic'] });
    expect(read({ profile_pic: 'javascript:alert(1)' })).toMatchObject({ invalid: ['profile_pic'] });
  });

  it('an answer that is not an object, or carries another id, is a typed UPSTREAM_ERROR', () => {
    for (const body of [[], [1, 2], 'text', 7, true]) expect(read(body)).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
    expect(read({ id: '43', username: 'bob' })).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
  });
});
