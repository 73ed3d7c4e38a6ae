import { afterEach, describe, expect, it } from 'vitest';
import { simulatedProfile } from '../src/simulator/index.js';
import { metric } from './support/metrics.js';
import { OffsetClock } from './support/offset-clock.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

const ONE = `query($id: ID!) { instagramUser(id: $id) { id username } }`;
const profileCalls = (stack: Stack) => stack.sim.calls.filter((call) => call.kind !== 'me');

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('in-memory cache', () => {
  it('answers a repeated query with no upstream call', async () => {
    stack = await startStack();
    const [id] = igsids(1);
    const first = await stack.gql(ONE, { id });
    const second = await stack.gql(ONE, { id });
    expect(second.data).toEqual(first.data);
    expect(profileCalls(stack)).toHaveLength(1);
  });

  it('field widening fetches only the missing fields, then serves the union from cache', async () => {
    stack = await startStack();
    const [id] = igsids(1, 10);
    await stack.gql(`query($id: ID!) { instagramUser(id: $id) { username } }`, { id });
    const wider = await stack.gql<{ instagramUser: { username: string; name: string | null; followerCount: number } }>(
      `query($id: ID!) { instagramUser(id: $id) { username name followerCount } }`,
      { id },
    );
    const expected = simulatedProfile(id!);
    expect(wider.data?.instagramUser).toEqual({ username: expected.username, name: expected.name, followerCount: expected.follower_count });
    expect(profileCalls(stack).map((call) => [...call.fields].sort())).toEqual([['username'], ['follower_count', 'name']]);
    await stack.gql(`query($id: ID!) { instagramUser(id: $id) { name username followerCount } }`, { id });
    expect(profileCalls(stack)).toHaveLength(2);
  });

  it('refetches after PROFILE_TTL_SECONDS when no stale window applies', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '1', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '0' }, clock });
    const [id] = igsids(1, 20);
    await stack.gql(ONE, { id });
    await stack.gql(ONE, { id });
    expect(profileCalls(stack)).toHaveLength(1);
    clock.skip(1100);
    await stack.gql(ONE, { id });
    expect(profileCalls(stack)).toHaveLength(2);
  });

  it('never serves a profilePic past its oe= expiry (minus the margin) and exposes profilePicExpiresAt', async () => {
    // Pictures expire 30 s after they are fetched (oe= in whole seconds); the margin is 1 s. The
    // simulator writes oe= from real time; only the gateway's clock skips past it. (With 2 s, a URL was
    // good for 0–1 s: on a loaded machine the second request came after that and re-read the picture.)
    const clock = new OffsetClock();
    stack = await startStack({ env: { PROFILE_PIC_EXPIRY_MARGIN_SECONDS: '1' }, sim: { profilePicTtlSeconds: 30 }, clock });
    const id = igsids(50, 30).find((candidate) => simulatedProfile(candidate).profile_pic !== null)!;
    const query = `query($id: ID!) { instagramUser(id: $id) { username profilePic profilePicExpiresAt } }`;
    const first = await stack.gql<{ instagramUser: { profilePic: string; profilePicExpiresAt: string } }>(query, { id });
    const oe = Number.parseInt(/oe=([0-9A-F]+)/.exec(first.data!.instagramUser.profilePic)![1]!, 16);
    expect(first.data?.instagramUser.profilePicExpiresAt).toBe(new Date(oe * 1000).toISOString());

    await stack.gql(query, { id });
    const callsWhileValid = profileCalls(stack).length;
    clock.skip(Math.max(0, oe * 1000 - 1000 - clock.now()) + 50);
    await stack.gql(query, { id });
    const refetch = profileCalls(stack).slice(callsWhileValid);
    // Only the picture had to be fetched again: username was still fresh.
    expect(refetch.map((call) => call.fields)).toEqual([['profile_pic']]);
  });

  it('stale-while-revalidate: answers at once from cache, refreshes once in the background', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '1', STALE_WHILE_REVALIDATE_SECONDS: '60' }, clock });
    const [id] = igsids(1, 40);
    await stack.gql(ONE, { id });
    clock.skip(1100);
    stack.sim.configure({ latencyMs: 3000 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => stack!.gql(ONE, { id })));
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    // Answered at once: the refresh (3 s at Meta) had not come back when the answers did.
    const finishedTrips = () => metric(stack!.url, 'igpg_upstream_round_trips_total', { kind: 'batch', status: '200' });
    expect(await finishedTrips()).toBe(1);
    await waitFor(async () => (await finishedTrips()) >= 2, { timeout: 8000, what: 'the background refresh' });
    expect(profileCalls(stack)).toHaveLength(2);
    // Refreshed: within TTL again, no further call.
    await stack.gql(ONE, { id });
    expect(profileCalls(stack)).toHaveLength(2);
  });

  it('stale-if-error: serves the stale profile when Meta fails or throttles, and says so', async () => {
    const clock = new OffsetClock();
    stack = await startStack({
      env: { PROFILE_TTL_SECONDS: '1', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '60', GRAPH_MAX_RETRIES: '0' },
      clock,
    });
    const [down, throttled] = igsids(2, 50);
    await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids: [down, throttled] });
    clock.skip(1100);
    stack.sim.setScenario(down!, { kind: 'transient' });
    stack.sim.setScenario(throttled!, { kind: 'rateLimited', etaMinutes: 3 });
    const answer = await stack.gql<{ instagramUsers: Array<{ username: string }> }>(
      `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`,
      { ids: [down, throttled] },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user.username)).toEqual([simulatedProfile(down!).username, simulatedProfile(throttled!).username]);
    const stale = (answer as unknown as { extensions?: { staleProfiles?: Array<{ igsid: string; reason: string }> } }).extensions?.staleProfiles;
    expect(stale?.map((notice) => [notice.igsid, notice.reason]).sort()).toEqual(
      [[down, 'UPSTREAM_UNAVAILABLE'], [throttled, 'RATE_LIMITED']].sort(),
    );
    expect(stack.logs.some((line) => line.includes('serving a stale profile'))).toBe(true);
  });

  it('stale-if-error does not cover a profile older than its window', async () => {
    const clock = new OffsetClock();
    stack = await startStack({
      env: { PROFILE_TTL_SECONDS: '1', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '1', GRAPH_MAX_RETRIES: '0' },
      clock,
    });
    const [id] = igsids(1, 60);
    await stack.gql(ONE, { id });
    clock.skip(2100);
    stack.sim.setScenario(id!, { kind: 'transient' });
    const answer = await stack.gql(ONE, { id });
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('remembers CONSENT_REQUIRED / USER_BLOCKED for NEGATIVE_TTL_SECONDS', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { NEGATIVE_TTL_SECONDS: '1' }, clock });
    const [consent, blocked] = igsids(2, 70);
    stack.sim.setScenario(consent!, { kind: 'consent' });
    stack.sim.setScenario(blocked!, { kind: 'blocked' });
    const query = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }`;
    const first = await stack.gql(query, { ids: [consent, blocked] });
    const second = await stack.gql(query, { ids: [consent, blocked] });
    expect(second.errors?.map((error) => error.extensions?.code)).toEqual(first.errors?.map((error) => error.extensions?.code));
    expect(second.errors?.map((error) => error.extensions?.code).sort()).toEqual(['CONSENT_REQUIRED', 'USER_BLOCKED']);
    expect(profileCalls(stack)).toHaveLength(1);
    clock.skip(1100);
    stack.sim.setScenario(consent!, null);
    const later = await stack.gql(query, { ids: [consent, blocked] });
    expect(later.errors?.map((error) => error.extensions?.code)).toEqual(['USER_BLOCKED']);
    expect(profileCalls(stack)).toHaveLength(2);
  });

  it('keeps at most CACHE_MAX_ENTRIES entries', async () => {
    stack = await startStack({ env: { CACHE_MAX_ENTRIES: '10' } });
    const ids = igsids(30, 80);
    await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids });
    // The first ids were evicted: asking for them again goes upstream; the last ten are still cached.
    await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids: ids.slice(20) });
    expect(profileCalls(stack)).toHaveLength(1);
    await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`, { ids: ids.slice(0, 5) });
    expect(profileCalls(stack)).toHaveLength(2);
  });

  it('a whole response is reused only while every profile in it is fresh, and never with errors', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { PROFILE_TTL_SECONDS: '2', STALE_WHILE_REVALIDATE_SECONDS: '0', STALE_IF_ERROR_SECONDS: '0' }, clock });
    const [id, refused] = igsids(2, 110);
    stack.sim.setScenario(refused!, { kind: 'consent' });
    const responseHits = () => metric(stack!.url, 'igpg_cache_lookups_total', { layer: 'response', result: 'hit' });
    const first = await stack.gql(ONE, { id });
    await stack.gql(ONE, { id }); // the hot path keeps an answer from its body's second sighting on
    expect(await responseHits()).toBe(0);
    const third = await stack.gql(ONE, { id });
    expect(third.data).toEqual(first.data);
    expect(await responseHits()).toBe(1);
    clock.skip(2100);
    await stack.gql(ONE, { id });
    expect(await responseHits()).toBe(1);
    expect(profileCalls(stack)).toHaveLength(2);
    // An answer with an error is never reused whole (the profile cache remembers the refusal).
    for (let i = 0; i < 3; i++) await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }`, { ids: [id, refused] });
    expect(await responseHits()).toBe(1);
  });

  it('CACHE_ENABLED=false sends every lookup upstream', async () => {
    stack = await startStack({ env: { CACHE_ENABLED: 'false' } });
    const [id] = igsids(1, 120);
    await stack.gql(ONE, { id });
    await stack.gql(ONE, { id });
    expect(profileCalls(stack)).toHaveLength(2);
  });
});

describe('coalescing across requests', () => {
  it('200 concurrent requests for 200 cold ids cost about ⌈200/50⌉ round trips', async () => {
    // A slow upstream keeps this count independent of how fast this busy machine delivers the 200
    // requests (group commit sends a partial group per round trip); the benchmark measures 40 ms.
    stack = await startStack({ sim: { latencyMs: 250 } });
    const ids = igsids(200, 2000);
    const answers = await Promise.all(ids.map((id) => stack!.gql<{ instagramUser: { id: string } }>(ONE, { id })));
    expect(answers.map((answer) => answer.data?.instagramUser.id)).toEqual(ids);
    const trips = profileCalls(stack);
    expect(trips.every((call) => call.kind === 'batch' && call.ids.length <= 50)).toBe(true);
    expect(trips.flatMap((call) => call.ids).sort()).toEqual([...ids].sort());
    // Without coalescing this would be 200 round trips. Group commit sends full groups of 50, partial
    // groups of 25 or more at once, and at most one smaller partial group per round trip while requests
    // keep arriving; how long this machine takes to deliver the 200 requests (0.3 s idle, over 2 s under
    // load) sets how many partial ones there are.
    const small = trips.filter((call) => call.ids.length < 25).length;
    const arrivalMs = trips.at(-1)!.at - trips[0]!.at;
    expect(small).toBeLessThanOrEqual(Math.floor(arrivalMs / 250) + 1);
  });

  it('50 concurrent requests for one cold id cost one upstream read', async () => {
    stack = await startStack({ sim: { latencyMs: 40 } });
    const [id] = igsids(1, 3000);
    const answers = await Promise.all(Array.from({ length: 50 }, () => stack!.gql(ONE, { id })));
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    expect(profileCalls(stack)).toHaveLength(1);
    expect(profileCalls(stack)[0]?.ids).toEqual([id]);
    // Every lookup that missed the cache, but the first, joined the first one's fetch.
    const misses = await metric(stack.url, 'igpg_cache_lookups_total', { layer: 'memory', result: 'miss' });
    expect(misses).toBeGreaterThan(1);
    expect(await metric(stack.url, 'igpg_coalesced_waits_total')).toBe(misses - 1);
  });

  it('without coalescing, concurrent requests each pay their own round trip (the control)', async () => {
    stack = await startStack({ env: { COALESCING_ENABLED: 'false', CACHE_ENABLED: 'false' }, sim: { latencyMs: 20 } });
    const ids = igsids(20, 4000);
    await Promise.all(ids.map((id) => stack!.gql(ONE, { id })));
    expect(profileCalls(stack).length).toBeGreaterThan(10);
  });
});

describe('operations endpoints', () => {
  it('/metrics exposes round trips, cache results, coalescing and Meta usage, without secrets', async () => {
    stack = await startStack({ sim: { appUsage: { call_count: 42, total_time: 7, total_cputime: 3 } } });
    const [id] = igsids(1, 5000);
    await Promise.all([stack.gql(ONE, { id }), stack.gql(ONE, { id })]);
    // Another selection of the same profile: a profile-cache hit (the response differs).
    await stack.gql(`query($id: ID!) { instagramUser(id: $id) { username } }`, { id });
    // The same query again: answered whole from the response cache.
    await stack.gql(ONE, { id });
    const response = await fetch(`${stack.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/igpg_upstream_round_trips_total\{account="\d+",kind="batch",status="200"\} 1/);
    expect(text).toMatch(/igpg_cache_lookups_total\{account="\d+",layer="memory",result="hit"\} [1-9]/);
    expect(text).toMatch(/igpg_cache_lookups_total\{account="\d+",layer="memory",result="miss"\} [1-9]/);
    expect(text).toMatch(/igpg_cache_lookups_total\{account="\d+",layer="response",result="hit"\} [1-9]/);
    expect(text).toMatch(/igpg_graph_app_usage_percent\{account="\d+",metric="call_count"\} 42/);
    expect(text).toContain('igpg_upstream_batch_size_bucket');
    expect(text).toContain('igpg_upstream_request_seconds_bucket');
    expect(text).toContain('igpg_coalesced_waits_total');
    expect(text).not.toContain('EAAtesttoken');
  });

  it('/readyz reports the memory cache as ready', async () => {
    stack = await startStack();
    const body = (await (await fetch(`${stack.url}/readyz`)).json()) as { status: string; cache: { layer: string } };
    expect(body).toMatchObject({ status: 'ready', cache: { layer: 'memory', status: 'ok' } });
  });
});
