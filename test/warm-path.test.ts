import { afterEach, describe, expect, it } from 'vitest';
import { metric } from './support/metrics.js';
import { OffsetClock } from './support/offset-clock.js';
import { igsids, startStack, type Stack } from './support/stack.js';

const WARM = 'igpg_warm_path_answers_total';
const EVERY_PLAIN_FIELD =
  'id name username profilePic profilePicExpiresAt avatarUrl fetchedAt followerCount isUserFollowBusiness isBusinessFollowUser isVerifiedUser segments displayName __typename';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

interface Raw {
  status: number;
  contentType: string | null;
  cacheControl: string | null;
  /** Every other header but `Date`. */
  headers: Record<string, string>;
  body: string;
}

/** A POST with exactly this body; `extensions: {}` makes the warm path step aside (Apollo answers the same request). */
async function post(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Raw> {
  const response = await fetch(`${stack!.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const kept = Object.fromEntries([...response.headers].filter(([name]) => name !== 'date' && name !== 'cache-control'));
  return { status: response.status, contentType: response.headers.get('content-type'), cacheControl: response.headers.get('cache-control'), headers: kept, body: await response.text() };
}

const warmAnswers = () => metric(stack!.url, WARM);
const maxAge = (raw: Raw) => Number(/^private, max-age=(\d+)$/.exec(raw.cacheControl ?? '')?.[1]);

/** Asks `body` of the warm path and of Apollo (the same request with `extensions`); both answers, and whether the warm path answered. */
async function both(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const before = await warmAnswers();
  const warm = await post(body, headers);
  const served = (await warmAnswers()) === before + 1;
  const apollo = await post({ ...body, extensions: {} }, headers);
  expect(await warmAnswers()).toBe(before + (served ? 1 : 0));
  return { warm, apollo, served };
}

describe('warm path: plain profile reads answered before Apollo, byte for byte as Apollo answers them', () => {
  it('every supported shape answers exactly what Apollo answers, with the same headers and no upstream call', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600' } });
    const ids = igsids(4, 9100);
    // Cold: the warm path loads them (one read) and answers.
    const cold = await post({ query: `query ($ids: [ID!]!) { instagramUsers(ids: $ids) { ${EVERY_PLAIN_FIELD} } }`, variables: { ids } });
    expect(cold.status).toBe(200);
    expect(await warmAnswers()).toBe(1);
    expect(stack.sim.roundTrips()).toBe(1);
    const trips = stack.sim.roundTrips();

    const shapes: Array<[string, Record<string, unknown>]> = [
      [`query One($id: ID!) { instagramUser(id: $id) { ${EVERY_PLAIN_FIELD} } }`, { id: ids[0] }],
      ['query Many($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name followerCount } }', { ids }],
      ['query ($ids: [ID!]!) { people: instagramUsers(ids: $ids) { handle: username username handle: username kind: __typename segments } }', { ids: [ids[1], ids[1], ids[0]] }],
      ['query ($a: ID!, $b: [ID!]!) { a: instagramUser(id: $a) { displayName } b: instagramUsers(ids: $b) { avatarUrl fetchedAt } }', { a: ids[2], b: [ids[3], ids[2]] }],
      [`{ instagramUser(id: "${ids[0]}") { username } instagramUsers(ids: ["${ids[1]}"]) { name } }`, {}],
      [`query ($id: ID! = "${ids[3]}") { instagramUser(id: $id) { isVerifiedUser profilePicExpiresAt } }`, {}],
      ['query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }', { ids: ids[2] }], // one value for a list: coerced to a list of one
      ['query ($id: ID!) { instagramUser(id: $id) { id username } }', { id: Number(ids[1]) }], // an integer ID
    ];
    // Twice over: the second time each person's JSON is reused from the first (when the selection is the same).
    for (const [n, [query, variables]] of [...shapes, ...shapes].entries()) {
      const { warm, apollo, served } = await both({ query, variables: { ...variables, n }, operationName: null });
      expect(served, query).toBe(true);
      expect(warm.body, query).toBe(apollo.body);
      expect(warm.status).toBe(apollo.status);
      expect(warm.contentType).toBe(apollo.contentType);
      expect(warm.headers).toEqual(apollo.headers);
      expect(Math.abs(maxAge(warm) - maxAge(apollo)), `${warm.cacheControl} vs ${apollo.cacheControl}`).toBeLessThanOrEqual(1);
      expect(maxAge(warm)).toBeGreaterThan(0);
    }
    // Named operation chosen by operationName.
    const named = await both({ query: 'query Pick($id: ID!) { instagramUser(id: $id) { username } }', variables: { id: ids[0] }, operationName: 'Pick' });
    expect(named.served).toBe(true);
    expect(named.warm.body).toBe(named.apollo.body);
    expect(stack.sim.roundTrips()).toBe(trips);
  });

  it('anything that is not a plain success of a plain read goes to Apollo, which answers it', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600', MAX_IDS_PER_QUERY: '3' } });
    const ids = igsids(3, 9200);
    await post({ query: 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name } }', variables: { ids } });
    const steppedAside = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      const { warm, apollo, served } = await both(body, headers);
      expect(served, JSON.stringify(body)).toBe(false);
      return { warm, apollo };
    };
    // Errors: an invalid id, a missing variable, a wrong type, over MAX_IDS_PER_QUERY, a validation error.
    const invalid = await steppedAside({ query: 'query ($id: ID!) { instagramUser(id: $id) { username } }', variables: { id: 'x1' } });
    expect(JSON.parse(invalid.warm.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const missing = await steppedAside({ query: 'query ($id: ID!) { instagramUser(id: $id) { username } }', variables: {} });
    expect(missing.warm.status).toBe(400);
    await steppedAside({ query: 'query ($id: ID!) { instagramUser(id: $id) { username } }', variables: { id: { nested: true } } });
    const tooMany = await steppedAside({ query: 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { username } }', variables: { ids: [...ids, ids[0]] } });
    expect(tooMany.warm.body).toMatch(/MAX_IDS_PER_QUERY/);
    const twoFields = await steppedAside({ query: `query { a: instagramUsers(ids: ["${ids[0]}", "${ids[1]}"]) { id } b: instagramUser(id: "${ids[2]}") { id } c: instagramUser(id: "${ids[0]}") { id } }` });
    expect(twoFields.warm.body).toMatch(/MAX_IDS_PER_QUERY/);
    await steppedAside({ query: `{ instagramUser(id: "${ids[0]}") { nope } }` });
    // Shapes it does not compile: fragments, directives, lastInteractionAt, introspection, other root fields, an empty list.
    await steppedAside({ query: `{ instagramUser(id: "${ids[0]}") { ...F } } fragment F on InstagramUser { username }` });
    await steppedAside({ query: `{ instagramUser(id: "${ids[0]}") { ... on InstagramUser { username } } }` });
    await steppedAside({ query: `query ($yes: Boolean!) { instagramUser(id: "${ids[0]}") { username @include(if: $yes) } }`, variables: { yes: true } });
    await steppedAside({ query: `{ instagramUser(id: "${ids[0]}") { username lastInteractionAt } }` });
    await steppedAside({ query: `{ __typename instagramUser(id: "${ids[0]}") { username } }` });
    await steppedAside({ query: '{ instagramUsers(ids: []) { username } }' });
    await steppedAside({ query: `{ a: instagramUser(id: "${ids[0]}") { username } a: instagramUser(id: "${ids[0]}") { name } }` });
    // Another media type asked for.
    const graphqlResponse = await steppedAside({ query: `{ instagramUser(id: "${ids[0]}") { username } }` }, { accept: 'application/graphql-response+json' });
    expect(graphqlResponse.warm.contentType).toMatch(/^application\/graphql-response\+json/);
  });

  it('people not fresh in memory are loaded through the cache first (one read), then answered like Apollo', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600' } });
    const ids = igsids(3, 9300);
    const before = stack.sim.roundTrips();
    // Cold: read once by the warm path; Apollo's answer to the same request then comes from the cache.
    const cold = await both({ query: 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }', variables: { ids } });
    expect(cold.served).toBe(true);
    expect(cold.warm.body).toBe(cold.apollo.body);
    expect(maxAge(cold.warm)).toBeGreaterThan(0);
    expect(stack.sim.roundTrips()).toBe(before + 1);
    // A selection wider than what memory holds fresh: only the new field is read.
    const wider = await both({ query: `{ instagramUser(id: "${ids[1]}") { username followerCount } }` });
    expect(wider.served).toBe(true);
    expect(wider.warm.body).toBe(wider.apollo.body);
    expect(stack.sim.roundTrips()).toBe(before + 2);
  });

  it('a refusal or a failure found while loading is answered by Apollo from what was loaded: Meta is asked once', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600', GRAPH_MAX_RETRIES: '0', NEGATIVE_TTL_SECONDS: '0' } });
    const [fine] = igsids(1, 9350);
    for (const refused of ['99900000000001', '99930000000001']) {
      const before = stack.sim.roundTrips();
      const warmBefore = await warmAnswers();
      const answer = await post({ query: 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }', variables: { ids: [fine, refused] } });
      expect(await warmAnswers()).toBe(warmBefore);
      const body = JSON.parse(answer.body);
      expect(body.data.instagramUsers[0].id).toBe(fine);
      expect(body.data.instagramUsers[1]).toBeNull();
      expect(body.errors[0].path).toEqual(['instagramUsers', 1]);
      expect(body.errors[0].extensions.code).toBe(refused.startsWith('9990') ? 'CONSENT_REQUIRED' : 'UPSTREAM_UNAVAILABLE');
      expect(answer.cacheControl).toBe('no-store');
      // One read for both ids, not a second one by Apollo (nothing refused is remembered here: NEGATIVE_TTL_SECONDS=0).
      expect(stack.sim.roundTrips()).toBe(before + 1);
    }
  });

  it('handed to Apollo, the loaded outcomes serve every group its loader makes (each needing fewer fields): Meta is asked once', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '0' } });
    const a = ['99930000000002', ...igsids(54, 9360)];
    const b = igsids(2, 9450);
    const query = 'query ($a: [ID!]!, $b: [ID!]!) { a: instagramUsers(ids: $a) { username } b: instagramUsers(ids: $b) { name } }';
    const answer = await post({ query, variables: { a, b } });
    const body = JSON.parse(answer.body);
    expect(body.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(body.data.a.filter(Boolean)).toHaveLength(54);
    expect(body.data.b.filter(Boolean)).toHaveLength(2);
    // 57 people in ⌈57/50⌉ = 2 round trips by the warm path; Apollo's groups (50 × username, then the rest) ask nothing more.
    expect(stack.sim.roundTrips()).toBe(2);
  });

  it('a profile no longer fresh is read again (once) before the answer, never served from memory', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '60', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '0' }, clock });
    const [id] = igsids(1, 9400);
    const query = 'query ($id: ID!) { instagramUser(id: $id) { username } }'; // `n`: an undeclared variable, a different body each time
    await post({ query, variables: { id, n: 0 } });
    const warm = await both({ query, variables: { id, n: 1 } });
    expect(warm.served).toBe(true);
    const trips = stack.sim.roundTrips();
    clock.skip(61_000);
    const stale = await both({ query, variables: { id, n: 2 } });
    expect(stale.served).toBe(true);
    expect(stale.warm.body).toBe(stale.apollo.body);
    expect(maxAge(stale.warm)).toBeGreaterThan(50);
    expect(stack.sim.roundTrips()).toBe(trips + 1);
    // Fresh again: answered from memory, nothing read.
    expect((await both({ query, variables: { id, n: 3 } })).served).toBe(true);
    expect(stack.sim.roundTrips()).toBe(trips + 1);
  });

  it('counts the profile hits Apollo would count, and the hot path keeps its answer', async () => {
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '600' } });
    const ids = igsids(2, 9500);
    const query = 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { username } }';
    await post({ query, variables: { ids } });
    const hits = () => metric(stack!.url, 'igpg_cache_lookups_total', { layer: 'memory', result: 'hit' });
    const responseHits = () => metric(stack!.url, 'igpg_cache_lookups_total', { layer: 'response', result: 'hit' });
    const before = await hits();
    const { served } = await both({ query, variables: { ids: [ids[0], ids[1], ids[0]] } });
    expect(served).toBe(true);
    // Two distinct people, once each, on either path.
    expect(await hits()).toBe(before + 4);
    // The hot path keeps a warm answer from its body's second sighting on.
    await post({ query, variables: { ids: [ids[0], ids[1], ids[0]] } });
    const hotBefore = await responseHits();
    const warmBefore = await warmAnswers();
    await post({ query, variables: { ids: [ids[0], ids[1], ids[0]] } });
    expect(await responseHits()).toBe(hotBefore + 1);
    expect(await warmAnswers()).toBe(warmBefore);
  });

  it('past WARM_PATH_MAX_BYTES the least recently used texts are dropped and compiled again: answers stay exact', async () => {
    // Room for about one compiled text: each new text pushes the previous one out.
    stack = await startStack({ env: { WARM_PATH_MAX_BYTES: '2000' } });
    const ids = igsids(2, 9700);
    const texts = ['username', 'name', 'followerCount'].map((field) => `query ($id: ID!) { instagramUser(id: $id) { id ${field} } }`);
    await post({ query: `query ($id: ID!) { instagramUser(id: $id) { id username name followerCount } }`, variables: { id: ids[0] } });
    for (const [n, query] of [...texts, ...texts].entries()) {
      const { warm, apollo, served } = await both({ query, variables: { id: ids[0], n } });
      expect(served, query).toBe(true);
      expect(warm.body).toBe(apollo.body);
    }
  });

  it('steps aside past MAX_RESPONSE_BYTES and MAX_VARIABLES_DEPTH even when everyone is fresh: the refusal comes as from Apollo', async () => {
    stack = await startStack({ env: { MAX_RESPONSE_BYTES: '1024', MAX_VARIABLES_DEPTH: '4' } });
    const [id] = igsids(1, 9800);
    const query = 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name } }';
    expect((await post({ query, variables: { ids: [id] } })).status).toBe(200);
    const large = await post({ query, variables: { ids: Array.from({ length: 30 }, () => id) } });
    expect([large.status, JSON.parse(large.body).errors?.[0]?.extensions?.code]).toEqual([400, 'RESPONSE_TOO_LARGE']);
    const deep = await post({ query, variables: { ids: [id], n: [[[[['too deep']]]]] } });
    expect([deep.status, JSON.parse(deep.body).errors?.[0]?.message]).toEqual([400, expect.stringContaining('(MAX_VARIABLES_DEPTH)')]);
    // An extra `__proto__` key, which Fastify's parser drops: answered all the same.
    const warm = await warmAnswers();
    const extra = await post({ query, variables: JSON.parse(`{"ids":["${id}"],"__proto__":{"x":1}}`) as Record<string, unknown> });
    expect(extra.status).toBe(200);
    expect(await warmAnswers()).toBe(warm + 1);
    // A variable named `__proto__`: Fastify's parser drops the key, so Apollo says it is missing; the
    // front must not answer the id it names (the front leaves such bodies to Fastify's parser).
    const poisoned = `{"query":"query ($__proto__: [ID!]!) { instagramUsers(ids: $__proto__) { id } }","variables":{"__proto__":["${id}"]}}`;
    for (let i = 0; i < 2; i++) {
      const answer = await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: poisoned });
      expect([answer.status, JSON.stringify(await answer.json())]).toEqual([400, expect.stringContaining('was not provided')]);
    }
  });

  it('is off with WARM_PATH_MAX_BYTES=0', async () => {
    stack = await startStack({ env: { WARM_PATH_MAX_BYTES: '0' } });
    const [id] = igsids(1, 9600);
    const query = 'query ($id: ID!) { instagramUser(id: $id) { username } }'; // `n`: an undeclared variable, a different body each time
    await post({ query, variables: { id, n: 0 } });
    expect((await both({ query, variables: { id, n: 1 } })).served).toBe(false);
  });
});
