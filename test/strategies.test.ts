import { afterEach, describe, expect, it } from 'vitest';
import { OffsetClock } from './support/offset-clock.js';
import { igsids, startStack, type Stack } from './support/stack.js';

const LIST = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`;
type ListAnswer = { instagramUsers: Array<{ id: string; username: string } | null> };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('GRAPH_BATCH_STRATEGY', () => {
  it('single: one GET per id, token in the Authorization header, not the URL', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'single' } });
    const ids = igsids(12);
    const answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.data?.instagramUsers.map((user) => user?.id)).toEqual(ids);
    expect(stack.sim.calls).toHaveLength(12);
    expect(stack.sim.calls.every((call) => call.kind === 'single' && call.tokenLocation === 'header')).toBe(true);
  });

  it('single: at most GRAPH_SINGLE_CONCURRENCY GETs in flight at once', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'single', GRAPH_SINGLE_CONCURRENCY: '4' }, sim: { latencyMs: 60 } });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(20, 30) });
    expect(answer.errors).toBeUndefined();
    const at = stack.sim.calls.map((call) => call.at);
    expect(at).toHaveLength(20);
    // Each call takes ≥ 60 ms: calls that started within 40 ms of one another were in flight together.
    const together = Math.max(...at.map((start) => at.filter((other) => other >= start && other < start + 40).length));
    expect(together).toBe(4);
  });

  it('batch: the token travels in the form body', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'batch' } });
    await stack.gql<ListAnswer>(LIST, { ids: igsids(3) });
    expect(stack.sim.calls).toMatchObject([{ kind: 'batch', tokenLocation: 'form', version: 'v23.0' }]);
  });

  it('batch configured on a host that refuses it: typed error per id, no silent switch', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'batch' }, sim: { batchApi: 'refused' } });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(2) });
    expect(answer.data?.instagramUsers).toEqual([null, null]);
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['UPSTREAM_ERROR', 'UPSTREAM_ERROR']);
    expect(answer.errors?.[0]?.message).toContain('GRAPH_BATCH_STRATEGY');
  });

  it('ids (legacy, working host): one call per group; a bad id is isolated by bisection', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'ids' }, sim: { legacyIds: 'working' } });
    const ids = igsids(16, 100);
    let answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.errors).toBeUndefined();
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['ids']);

    stack.sim.resetCalls();
    const fresh = igsids(16, 200);
    stack.sim.setScenario(fresh[5]!, { kind: 'blocked' });
    answer = await stack.gql<ListAnswer>(LIST, { ids: fresh });
    expect(answer.data?.instagramUsers.map((user) => user?.id ?? null)).toEqual(fresh.map((id, i) => (i === 5 ? null : id)));
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors?.[0]).toMatchObject({ path: ['instagramUsers', 5], extensions: { code: 'USER_BLOCKED', igsid: fresh[5] } });
    // 1 failed call, then halves down to the culprit: 2 calls per level, log2(16) = 4 levels.
    expect(stack.sim.calls.every((call) => call.kind === 'ids')).toBe(true);
    expect(stack.sim.calls.length).toBeLessThanOrEqual(1 + 2 * 4);
  });

  it('ids on a host that removed ?ids=: logs once, switches to auto for good, never retries the 500', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'ids' }, sim: { legacyIds: 'removed' } });
    const first = await stack.gql<ListAnswer>(LIST, { ids: igsids(60) });
    expect(first.errors).toBeUndefined();
    expect(first.data?.instagramUsers).toHaveLength(60);
    const second = await stack.gql<ListAnswer>(LIST, { ids: igsids(60, 500) });
    expect(second.errors).toBeUndefined();
    const kinds = stack.sim.calls.map((call) => call.kind);
    // The two groups of the first query may both try ?ids= once before they learn; never again after.
    expect(kinds.filter((kind) => kind === 'ids').length).toBeLessThanOrEqual(2);
    expect(kinds.slice(-2)).toEqual(['batch', 'batch']);
    expect(stack.logs.filter((line) => line.includes('removed the ?ids= parameter'))).toHaveLength(1);
  });
});

describe('auto strategy', () => {
  it('uses the Batch API when the host accepts it', async () => {
    stack = await startStack();
    await stack.gql(LIST, { ids: igsids(51) });
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch']);
  });

  it('falls back to per-object reads when batches are refused, remembers it, re-probes later', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ env: { GRAPH_REPROBE_SECONDS: '1' }, sim: { batchApi: 'refused' }, clock });
    const ids = igsids(5);
    let answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user?.id)).toEqual(ids);
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'single', 'single', 'single', 'single', 'single']);

    stack.sim.resetCalls();
    answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(3, 50) });
    expect(answer.errors).toBeUndefined();
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['single', 'single', 'single']);
    expect(stack.logs.filter((line) => line.includes('refuses the Batch API'))).toHaveLength(1);

    // After the re-probe interval the host accepts batches again: auto goes back to them.
    stack.sim.configure({ batchApi: 'enabled' });
    clock.skip(1100);
    stack.sim.resetCalls();
    await stack.gql<ListAnswer>(LIST, { ids: igsids(3, 90) });
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch']);
  });

  it('a host (or proxy) that keeps answering batch POSTs with 502 counts as refusing them', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '2' }, sim: { batchApi: 'bad-gateway' } });
    const ids = igsids(3, 60);
    let answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user?.id)).toEqual(ids);
    // Three batch 502s in a row (the try and two retries), then the same group per object: those
    // reads succeed, so the host refuses batches.
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch', 'batch', 'single', 'single', 'single']);
    stack.sim.resetCalls();
    answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(2, 70) });
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['single', 'single']);
    expect(stack.logs.filter((line) => line.includes('refuses the Batch API'))).toHaveLength(1);
  });

  it('an outage (batch POSTs and object reads both 502) is not taken for a refusal: batches resume with the host', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '1' }, sim: { batchApi: 'bad-gateway' } });
    const ids = igsids(2, 90);
    for (const id of ids) stack.sim.setScenario(id, { kind: 'httpError', status: 502 });
    const answer = await stack.gql<ListAnswer>(LIST, { ids });
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    // A 502 is an outage until several batches in a row failed: the batch and its one retry, nothing per object.
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch']);
    expect(stack.logs.some((line) => line.includes('refuses the Batch API'))).toBe(false);
    stack.sim.configure({ batchApi: 'enabled' });
    for (const id of ids) stack.sim.setScenario(id, null);
    stack.sim.resetCalls();
    expect((await stack.gql<ListAnswer>(LIST, { ids })).errors).toBeUndefined();
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch']);
  });

  it('batch configured on a host answering 502: UPSTREAM_UNAVAILABLE (retryable) per id, no switch', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'batch', GRAPH_MAX_RETRIES: '1' }, sim: { batchApi: 'bad-gateway' } });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(2, 80) });
    expect(answer.data?.instagramUsers).toEqual([null, null]);
    expect(answer.errors?.map((error) => error.extensions)).toMatchObject([
      { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
      { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
    ]);
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch']);
  });
});

describe('retries and timeouts', () => {
  it('retries a transient failure and then answers', async () => {
    stack = await startStack();
    const [flaky, steady] = igsids(2, 700);
    stack.sim.setScenario(flaky!, { kind: 'transient', times: 2 });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: [flaky!, steady!] });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user?.id)).toEqual([flaky, steady]);
    // The retry carries only the id that failed.
    expect(stack.sim.calls.map((call) => call.ids)).toEqual([[flaky, steady], [flaky], [flaky]]);
  });

  it('backs off exponentially from GRAPH_RETRY_BASE_MS, with jitter, capped at 20× the base', async () => {
    stack = await startStack({ env: { GRAPH_RETRY_BASE_MS: '20', GRAPH_MAX_RETRIES: '6' } });
    const [flaky] = igsids(1, 750);
    stack.sim.setScenario(flaky!, { kind: 'transient', times: 6 });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: flaky });
    expect(answer.errors).toBeUndefined();
    const at = stack.sim.calls.map((call) => call.at);
    expect(at).toHaveLength(7);
    const gaps = at.slice(1).map((time, i) => time - at[i]!);
    // Delay n is base × 2^(n-1) × a random factor in [1, 2), never more than 20 × base = 400 ms.
    gaps.slice(0, 4).forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(20 * 2 ** i - 2));
    // Uncapped, the sixth delay would be at least 20 × 2^5 = 640 ms: that, not 400 ms plus scheduling noise, is the bound.
    for (const gap of gaps) expect(gap).toBeLessThan(20 * 2 ** 5);
    expect(gaps[5]).toBeGreaterThanOrEqual(398);
    // Jittered: the first four delays are not all exactly the unjittered schedule.
    expect(gaps.slice(0, 4).some((gap, i) => Math.abs(gap - 20 * 2 ** i) > 3)).toBe(true);
  });

  it('gives up after GRAPH_MAX_RETRIES with UPSTREAM_UNAVAILABLE', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '3' } });
    const [down] = igsids(1, 800);
    stack.sim.setScenario(down!, { kind: 'transient' });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: down });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true, igsid: down });
    expect(stack.sim.calls).toHaveLength(4);
  });

  it('retries a null Batch API element', async () => {
    stack = await startStack();
    const [lost] = igsids(1, 900);
    stack.sim.setScenario(lost!, { kind: 'batchNull' });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: lost });
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(stack.sim.calls).toHaveLength(3);
  });

  it('times out a slow call and reports UPSTREAM_UNAVAILABLE', async () => {
    stack = await startStack({ env: { GRAPH_TIMEOUT_MS: '150', GRAPH_MAX_RETRIES: '1' } });
    const [slow] = igsids(1, 950);
    stack.sim.setScenario(slow!, { kind: 'slow', ms: 1000 });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: slow });
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(answer.errors?.[0]?.message).toContain('timed out');
    // The profile call and its one retry (a slow /me at start, retried in the background, is not one of them).
    expect(stack.sim.calls.filter((call) => call.kind !== 'me')).toHaveLength(2);
  });

  it('treats a refused connection as UPSTREAM_UNAVAILABLE', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '1' } });
    await stack.sim.close();
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: igsids(1)[0] });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });
});

describe('typed errors from Meta', () => {
  it('throttling: RATE_LIMITED with retryAfterSeconds, never retried blindly', async () => {
    stack = await startStack();
    const [hot] = igsids(1, 1200);
    stack.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 7 });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: hot });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterSeconds: 420, graph: { code: 4 } });
    expect(stack.sim.calls).toHaveLength(1);
  });

  it('Retry-After is honoured when Meta sends it; Instagram BUC code 80002 is throttling too', async () => {
    stack = await startStack();
    const [hot, buc] = igsids(2, 1250);
    stack.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 90 });
    stack.sim.setScenario(buc!, { kind: 'businessRateLimited', etaMinutes: 2 });
    const answer = await stack.gql(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }`, { ids: [hot, buc] });
    const codes = new Map(answer.errors?.map((error) => [error.extensions?.igsid, error.extensions]));
    expect(codes.get(hot)).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 90 });
    expect(codes.get(buc)).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 120, graph: { code: 80002 } });
  });

  it.each([
    [{ kind: 'tokenInvalid' } as const, 'ACCESS_TOKEN_INVALID', 190],
    [{ kind: 'permission' } as const, 'PERMISSION_DENIED', 10],
    [{ kind: 'unknownUser' } as const, 'USER_BLOCKED', null],
  ])('%o becomes %s', async (scenario, code, graphCode) => {
    stack = await startStack();
    const [id] = igsids(1, 1300);
    stack.sim.setScenario(id!, scenario);
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id });
    expect(answer.errors?.[0]?.extensions?.code).toBe(code);
    if (graphCode !== null) expect((answer.errors?.[0]?.extensions?.graph as { code: number }).code).toBe(graphCode);
    expect(stack.sim.calls).toHaveLength(1);
  });

  it('an unknown token fails every id with ACCESS_TOKEN_INVALID, without the token in the answer', async () => {
    stack = await startStack({ sim: { tokens: { 'some-other-token': '17841400000000009' } } });
    const answer = await stack.gql<ListAnswer>(LIST, { ids: igsids(2) });
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['ACCESS_TOKEN_INVALID', 'ACCESS_TOKEN_INVALID']);
    expect(stack.sim.calls).toHaveLength(1);
  });
});

describe('appsecret_proof', () => {
  const business = '17841400000000042';
  it('is sent on every call when INSTAGRAM_APP_SECRET is set, and Meta accepts it', async () => {
    stack = await startStack({
      env: { INSTAGRAM_APP_SECRET: 'app-secret-for-tests' },
      sim: { tokens: { 'EAAtesttoken-0123456789abcdef': business }, appSecrets: { [business]: 'app-secret-for-tests' } },
    });
    const batch = await stack.gql<ListAnswer>(LIST, { ids: igsids(2) });
    expect(batch.errors).toBeUndefined();
    expect(stack.sim.calls.every((call) => /^[0-9a-f]{64}$/.test(call.appsecretProof ?? ''))).toBe(true);
  });

  it('a wrong secret becomes ACCESS_TOKEN_INVALID', async () => {
    stack = await startStack({
      env: { INSTAGRAM_APP_SECRET: 'not-the-right-secret', GRAPH_BATCH_STRATEGY: 'single' },
      sim: { tokens: { 'EAAtesttoken-0123456789abcdef': business }, appSecrets: { [business]: 'app-secret-for-tests' } },
    });
    const answer = await stack.gql(`query($id: ID!) { instagramUser(id: $id) { id } }`, { id: igsids(1)[0] });
    expect(answer.errors?.[0]?.extensions?.code).toBe('ACCESS_TOKEN_INVALID');
  });
});
