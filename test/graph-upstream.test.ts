import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/index.js';
import { startGraphProxy, type GraphProxy } from './support/graph-proxy.js';
import { igsids, startStack, type Stack } from './support/stack.js';

const LIST = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`;
const ONE = `query($id: ID!) { instagramUser(id: $id) { id username followerCount profilePic } }`;
type ListAnswer = { instagramUsers: Array<{ id: string; username: string } | null> };

let stack: Stack | undefined;
let sim: Simulator | undefined;
let proxy: GraphProxy | undefined;
afterEach(async () => {
  await stack?.close();
  await proxy?.close();
  await sim?.close();
  stack = sim = proxy = undefined;
});

/** A gateway whose Graph host is a counting, rewriting proxy in front of a simulator. */
async function proxied(env: Record<string, string> = {}, simOptions: SimulatorOptions = {}) {
  sim = await startSimulator(simOptions);
  proxy = await startGraphProxy(sim.url);
  stack = await startStack({ env: { INSTAGRAM_GRAPH_URL: proxy.url, ...env } });
  proxy.reset();
  return { sim, proxy, stack };
}

describe('bounded upstream concurrency (UPSTREAM_MAX_CONCURRENCY_PER_ACCOUNT)', () => {
  it('4 clients × 250 ids against a slow host: never more than the cap in flight, every id answered', async () => {
    // A generous slot wait: on a loaded machine queued calls must not be shed in this test.
    const env = { UPSTREAM_MAX_CONCURRENCY_PER_ACCOUNT: '4', UPSTREAM_QUEUE_WAIT_MS: '60000', CACHE_ENABLED: 'false' };
    const { proxy, stack } = await proxied(env, { latencyMs: 300 });
    const answers = await Promise.all(Array.from({ length: 4 }, (_, client) => stack.gql<ListAnswer>(LIST, { ids: igsids(250, 10_000 * (client + 1)) })));
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUsers).toHaveLength(250);
    }
    expect(proxy.calls.length).toBeGreaterThanOrEqual(20);
    expect(proxy.peak).toBeLessThanOrEqual(4);
  });

  it('a call that cannot get a slot in time is shed with UPSTREAM_UNAVAILABLE naming the setting', async () => {
    const { stack } = await proxied(
      { UPSTREAM_MAX_CONCURRENCY_PER_ACCOUNT: '1', UPSTREAM_QUEUE_LIMIT: '0', GRAPH_BATCH_STRATEGY: 'single', GRAPH_SINGLE_CONCURRENCY: '2' },
      { latencyMs: 50 },
    );
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(2, 300) });
    const codes = answer.errors?.map((error) => error.extensions?.code);
    expect(codes).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors?.[0]?.message).toContain('UPSTREAM_QUEUE_LIMIT');
  });
});

describe('auto strategy and a lone 5xx', () => {
  it('one injected batch 500 is an outage, retried as such: 100 concurrent requests later still go as batches', async () => {
    // A slow host lets group commit fill its batches however slowly this busy machine sends the 100.
    const { proxy, stack } = await proxied({}, { latencyMs: 250 });
    let injected = false;
    proxy.rewrite = async (request, forward) => {
      if (request.method !== 'POST' || injected) return forward();
      injected = true;
      return { status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 1, message: 'An unknown error occurred' } }) };
    };
    const first = await stack.gql<ListAnswer>(LIST, { ids: igsids(2, 400) });
    expect(first.errors).toBeUndefined();
    proxy.reset();
    const many = await Promise.all(igsids(100, 500).map((id) => stack.gql<ListAnswer>(LIST, { ids: [id] })));
    expect(many.every((answer) => answer.errors === undefined)).toBe(true);
    // ⌈100/50⌉ = 2 at best; per-object reads would be 100.
    expect(proxy.calls.length).toBeLessThanOrEqual(10);
    expect(proxy.calls.every((call) => call.method === 'POST')).toBe(true);
  });
});

describe('Batch API answers are matched to their requests', () => {
  const rewriteBatch = (proxy: GraphProxy, change: (elements: unknown[]) => unknown[]) => {
    proxy.rewrite = async (request, forward) => {
      const answer = await forward();
      if (request.method !== 'POST') return answer;
      return { ...answer, body: JSON.stringify(change(JSON.parse(answer.body) as unknown[])) };
    };
  };

  it('a reordered answer never serves one person\'s profile under another\'s IGSID, and nothing is cached', async () => {
    const { proxy, stack } = await proxied();
    const ids = igsids(2, 600);
    rewriteBatch(proxy, (elements) => [...elements].reverse());
    const answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.data?.instagramUsers).toEqual([null, null]);
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['UPSTREAM_ERROR', 'UPSTREAM_ERROR']);

    proxy.rewrite = undefined;
    proxy.reset();
    const again = await stack.gql<ListAnswer>(LIST, { ids });
    expect(again.data?.instagramUsers.map((user) => user?.id)).toEqual(ids);
    expect(proxy.calls).toHaveLength(1);
  });

  it('an answer one element short fails every id of the group', async () => {
    const { proxy, stack } = await proxied();
    rewriteBatch(proxy, (elements) => elements.slice(1));
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(3, 650) });
    expect(answer.data?.instagramUsers).toEqual([null, null, null]);
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['UPSTREAM_ERROR', 'UPSTREAM_ERROR', 'UPSTREAM_ERROR']);
  });
});

describe('upstream values are type-checked', () => {
  it('a wrong-typed field or an absurd oe= is null, never an INTERNAL_SERVER_ERROR; a non-object answer is UPSTREAM_ERROR', async () => {
    const [badCount, badPic, notObject] = igsids(3, 700);
    const { proxy, stack } = await proxied(
      { GRAPH_BATCH_STRATEGY: 'single' },
      {
        profileOverrides: {
          [badCount!]: { follower_count: 'many' as unknown as number },
          [badPic!]: { profile_pic: 'https://scontent.cdninstagram.com/v/x.jpg?oe=FFFFFFFFFFFF' },
        },
      },
    );
    proxy.rewrite = async (request, forward) => (request.path.includes(notObject!) ? { status: 200, headers: { 'content-type': 'application/json' }, body: '[1,2]' } : forward());
    const count = await stack.gql<{ instagramUser: { username: string; followerCount: number | null } | null }>(ONE, { id: badCount });
    expect(count.errors?.some((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR')).not.toBe(true);
    expect(count.data?.instagramUser?.followerCount).toBeNull();
    expect(typeof count.data?.instagramUser?.username).toBe('string');
    // The bad field is a typed error at its path, not a silent null.
    expect(count.errors).toHaveLength(1);
    expect(count.errors?.[0]).toMatchObject({ path: ['instagramUser', 'followerCount'], extensions: { code: 'UPSTREAM_ERROR', igsid: badCount } });

    const pic = await stack.gql<{ instagramUser: { profilePic: string | null } | null }>(ONE, { id: badPic });
    expect(pic.errors?.some((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR')).not.toBe(true);
    expect(pic.data?.instagramUser?.profilePic).toBeNull();
    expect(pic.errors?.[0]).toMatchObject({ path: ['instagramUser', 'profilePic'], extensions: { code: 'UPSTREAM_ERROR' } });

    // Never cached: asking again reads Meta again (the good fields alone would be a cache hit).
    const before = proxy.calls.length;
    const again = await stack.gql(ONE, { id: badCount });
    expect(again.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(proxy.calls.length).toBeGreaterThan(before);

    const array = await stack.gql(ONE, { id: notObject });
    expect(array.data?.instagramUser).toBeNull();
    expect(array.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
  });
});

describe('upstream strings and bodies are bounded', () => {
  it('a 100,000-character fbtrace_id is clipped; unknown X-App-Usage keys never become metric labels', async () => {
    const { proxy, stack } = await proxied({ GRAPH_BATCH_STRATEGY: 'single' });
    const junk = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key_${i}_${'z'.repeat(100)}`, 5]));
    proxy.rewrite = async () => ({
      status: 400,
      headers: { 'content-type': 'application/json', 'x-app-usage': JSON.stringify({ call_count: 3, ...junk }) },
      body: JSON.stringify({ error: { code: 100, message: 'Tried accessing nonexisting field', fbtrace_id: 'A'.repeat(100_000) } }),
    });
    const answer = await stack.gql(ONE, { id: igsids(1, 800)[0] });
    const graph = answer.errors?.[0]?.extensions?.graph as { fbtraceId: string };
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(graph.fbtraceId.length).toBeLessThanOrEqual(201);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toContain('metric="call_count"');
    expect(metrics).not.toContain('key_0_');
  });

  it('an answer longer than GRAPH_MAX_RESPONSE_BYTES fails that id with UPSTREAM_ERROR naming the setting', async () => {
    const [big, small] = igsids(2, 850);
    const { stack } = await proxied({ GRAPH_MAX_RESPONSE_BYTES: '20000', GRAPH_BATCH_STRATEGY: 'single' }, { profileOverrides: { [big!]: { username: 'x'.repeat(50_000) } } });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: [big, small] });
    expect(answer.data?.instagramUsers.map((user) => user?.id ?? null)).toEqual([null, small]);
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(answer.errors?.[0]?.message).toContain('GRAPH_MAX_RESPONSE_BYTES');
  });
});

describe('advertised waits are clamped (MAX_UPSTREAM_PAUSE_SECONDS); AccountProfiles.pausedSeconds()', () => {
  it('Retry-After: 99999999999 pauses for at most the cap, and the clamp is logged', async () => {
    stack = await startStack({ env: { MAX_UPSTREAM_PAUSE_SECONDS: '600' } });
    const [hot] = igsids(1, 900);
    stack.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 99_999_999_999 });
    const answer = await stack.gql(ONE, { id: hot });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 600 });
    const cold = await stack.gql(ONE, { id: igsids(1, 950)[0] });
    expect(cold.errors?.[0]?.extensions?.retryAfterSeconds).toBeLessThanOrEqual(600);
    const paused = stack.gateway.accounts.only()?.pausedSeconds();
    expect(paused).toBeGreaterThan(590);
    expect(paused).toBeLessThanOrEqual(600);
    expect(stack.logs.some((line) => line.includes('MAX_UPSTREAM_PAUSE_SECONDS'))).toBe(true);
  });
});
