import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simulatedProfile } from '../src/simulator/index.js';
import { ALL_FIELDS, igsids, startStack, type Stack } from './support/stack.js';

interface User {
  id: string;
  name: string | null;
  username: string | null;
  profilePic: string | null;
  followerCount: number | null;
  isUserFollowBusiness: boolean | null;
  isBusinessFollowUser: boolean | null;
  isVerifiedUser: boolean | null;
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());
beforeEach(() => {
  stack.sim.resetCalls();
});

describe('instagramUser', () => {
  it('maps every Graph field to its camelCased GraphQL field', async () => {
    const [id] = igsids(1);
    const answer = await stack.gql<{ instagramUser: User }>(`query($id: ID!) { instagramUser(id: $id) { ${ALL_FIELDS} } }`, { id });
    expect(answer.errors).toBeUndefined();
    const expected = simulatedProfile(id!);
    expect(answer.data?.instagramUser).toEqual({
      id,
      name: expected.name,
      username: expected.username,
      profilePic: expected.profile_pic,
      followerCount: expected.follower_count,
      isUserFollowBusiness: expected.is_user_follow_business,
      isBusinessFollowUser: expected.is_business_follow_user,
      isVerifiedUser: expected.is_verified_user,
    });
  });

  it('keeps null name and profilePic as null', async () => {
    const id = igsids(200).find((candidate) => simulatedProfile(candidate).name === null)!;
    const picless = igsids(200).find((candidate) => simulatedProfile(candidate).profile_pic === null)!;
    const answer = await stack.gql<{ a: User; b: User }>(
      `query($a: ID!, $b: ID!) { a: instagramUser(id: $a) { id name } b: instagramUser(id: $b) { id profilePic } }`,
      { a: id, b: picless },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.a).toEqual({ id, name: null });
    expect(answer.data?.b).toEqual({ id: picless, profilePic: null });
  });

  it('asks Meta only for the fields the selection needs, through fragments too', async () => {
    const [id] = igsids(1, 7);
    await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id username } }`, { id });
    expect(stack.sim.calls.at(-1)?.fields).toEqual(['username']);

    await stack.gql(
      `query($id: ID!) { instagramUser(id: $id) { ...card ... on InstagramUser { isVerifiedUser } } }
       fragment card on InstagramUser { profilePic followerCount }`,
      { id },
    );
    expect([...(stack.sim.calls.at(-1)?.fields ?? [])].sort()).toEqual(['follower_count', 'is_verified_user', 'profile_pic']);
  });

  it('rejects an id that is not an IGSID with BAD_USER_INPUT and calls nobody', async () => {
    for (const bad of ['abc', '12a4', '123456789012345678901', '', ' 123', '１２３']) {
      const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: bad });
      expect(answer.data?.instagramUser).toBeNull();
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect(stack.sim.calls).toHaveLength(0);
  });
});

describe('instagramUsers', () => {
  it('answers n cold ids in ⌈n/50⌉ Batch API round trips', async () => {
    const ids = igsids(120, 1000);
    const answer = await stack.gql<{ instagramUsers: User[] }>(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user.id)).toEqual(ids);
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch', 'batch']);
    expect(stack.sim.calls.map((call) => call.ids.length).sort()).toEqual([20, 50, 50]);
  });

  it('keeps the caller order and repeats, asking each id once', async () => {
    const [a, b, c] = igsids(3, 2000);
    const ids = [b!, a!, b!, c!, a!];
    const answer = await stack.gql<{ instagramUsers: User[] }>(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids });
    expect(answer.data?.instagramUsers.map((user) => user.id)).toEqual(ids);
    expect(answer.data?.instagramUsers[0]).toEqual(answer.data?.instagramUsers[2]);
    expect(stack.sim.calls).toHaveLength(1);
    expect([...stack.sim.calls[0]!.ids].sort()).toEqual([a, b, c].sort());
  });

  it('fails only the bad ids, each at its own index with a typed error, in one round trip', async () => {
    const [ok1, consent, ok2, blocked, ok3] = igsids(5, 3000);
    stack.sim.setScenario(consent!, { kind: 'consent' });
    stack.sim.setScenario(blocked!, { kind: 'blocked' });
    try {
      const ids = [ok1!, consent!, ok2!, blocked!, ok3!, 'not-an-id'];
      const answer = await stack.gql<{ instagramUsers: Array<User | null> }>(
        `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`,
        { ids },
      );
      const users = answer.data?.instagramUsers ?? [];
      expect(users.map((user) => user?.id ?? null)).toEqual([ok1, null, ok2, null, ok3, null]);
      const byIndex = new Map(answer.errors?.map((error) => [error.path?.[1], error]));
      expect(byIndex.get(1)?.extensions).toMatchObject({ code: 'CONSENT_REQUIRED', igsid: consent, retryable: false, graph: { code: 230 } });
      expect(byIndex.get(3)?.extensions).toMatchObject({ code: 'USER_BLOCKED', igsid: blocked, graph: { code: 100, subcode: 33 } });
      expect(byIndex.get(5)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(answer.errors).toHaveLength(3);
      for (const error of answer.errors ?? []) expect(error.path?.[0]).toBe('instagramUsers');
      expect(stack.sim.calls).toHaveLength(1);
      expect(stack.sim.calls[0]?.ids).not.toContain('not-an-id');
    } finally {
      stack.sim.setScenario(consent!, null);
      stack.sim.setScenario(blocked!, null);
    }
  });

  it('refuses more than MAX_IDS_PER_QUERY ids before any upstream call', async () => {
    const answer = await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }`, { ids: igsids(501) });
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(answer.errors?.[0]?.message).toContain('at most 500');
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('answers an empty list with an empty list and no call', async () => {
    const answer = await stack.gql<{ instagramUsers: User[] }>(`{ instagramUsers(ids: []) { id } }`);
    expect(answer.data?.instagramUsers).toEqual([]);
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('merges lookups from several root fields of one operation into one round trip', async () => {
    const [a, b, c] = igsids(3, 4000);
    const answer = await stack.gql(
      `query($a: ID!, $b: ID!, $c: ID!) { x: instagramUser(id: $a) { username } y: instagramUser(id: $b) { name } z: instagramUsers(ids: [$c, $a]) { id } }`,
      { a, b, c },
    );
    expect(answer.errors).toBeUndefined();
    expect(stack.sim.calls).toHaveLength(1);
    expect([...stack.sim.calls[0]!.ids].sort()).toEqual([a, b, c].sort());
  });
});

describe('HTTP', () => {
  it('serves queries over GET (with Apollo CSRF prevention still on)', async () => {
    const [id] = igsids(1, 5000);
    const query = encodeURIComponent(`{ instagramUser(id: "${id}") { id username } }`);
    const blocked = await fetch(`${stack.url}/graphql?query=${query}`);
    expect(blocked.status).toBe(400);
    const allowed = await fetch(`${stack.url}/graphql?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(allowed.status).toBe(200);
    const body = (await allowed.json()) as { data: { instagramUser: User } };
    expect(body.data.instagramUser.username).toBe(simulatedProfile(id!).username);
  });

  it('answers /healthz', async () => {
    const response = await fetch(`${stack.url}/healthz`);
    expect(response.status).toBe(200);
  });
});
