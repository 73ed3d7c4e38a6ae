import { getIntrospectionQuery } from 'graphql';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { startGraphProxy, type GraphProxy } from './support/graph-proxy.js';
import { OffsetClock } from './support/offset-clock.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';
import { igsids, postGraphQL, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

const ONE = `query($id: ID!) { instagramUser(id: $id) { id username } }`;
type Errors = Array<{ message: string; extensions?: Record<string, unknown> }>;

let stack: Stack | undefined;
let sim: Simulator | undefined;
let child: GatewayProcess | undefined;
let proxy: GraphProxy | undefined;
afterEach(async () => {
  await stack?.close();
  await child?.stop();
  await proxy?.close();
  await sim?.close();
  stack = sim = child = proxy = undefined;
});

/** Resolves once the simulator has received a profile read (not the startup `/me`): the request is in flight. */
const upstreamReached = (simulator: Simulator) =>
  waitFor(() => simulator.calls.some((call) => call.kind !== 'me'), { what: 'the profile read to reach the simulator' });

async function post(url: string, body: string | unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { errors?: Errors; message?: string } & Record<string, unknown> };
}

describe('limits give clear errors, not crashes', () => {
  it('root fields: 200 aliases pass, more than MAX_ROOT_FIELDS are refused before any upstream call', async () => {
    stack = await startStack();
    const ids = igsids(251, 5000);
    const aliased = (n: number) => `{ ${ids.slice(0, n).map((id, i) => `u${i}: instagramUser(id: "${id}") { id }`).join(' ')} }`;
    const ok = await stack.gql<Record<string, { id: string }>>(aliased(200));
    expect(ok.errors).toBeUndefined();
    expect(Object.keys(ok.data ?? {})).toHaveLength(200);
    stack.sim.resetCalls();
    const tooMany = await stack.gql(aliased(251));
    expect(tooMany.status).toBe(400);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(tooMany.errors?.[0]?.message).toBe('The operation selects 251 root fields (aliases included); at most 250 are allowed (MAX_ROOT_FIELDS).');
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('depth: the standard introspection query passes, deeper nesting is refused (fragments count)', async () => {
    stack = await startStack({ env: { MAX_QUERY_DEPTH: '15' } });
    expect((await stack.gql(getIntrospectionQuery())).errors).toBeUndefined();
    const deep = `{ __schema { ...T } } fragment T on __Schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } }`;
    const answer = await stack.gql(deep);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]?.message).toBe('The operation is nested 16 levels deep; at most 15 are allowed (MAX_QUERY_DEPTH).');
  });

  it('batched HTTP requests: allowed up to MAX_BATCH_OPERATIONS', async () => {
    stack = await startStack({ env: { MAX_BATCH_OPERATIONS: '3' } });
    const [a, b] = igsids(2, 5400);
    const ok = await post(stack.url, [{ query: ONE, variables: { id: a } }, { query: ONE, variables: { id: b } }]);
    expect(ok.status).toBe(200);
    expect((ok.body as unknown as Array<{ data: { instagramUser: { id: string } } }>).map((r) => r.data.instagramUser.id)).toEqual([a, b]);
    const tooMany = await post(stack.url, Array.from({ length: 4 }, () => ({ query: ONE, variables: { id: a } })));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors?.[0]).toMatchObject({
      message: 'The batch holds 4 operations; at most 3 are allowed (MAX_BATCH_OPERATIONS).',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('body size: HTTP 413 with a short JSON reason naming MAX_BODY_BYTES', async () => {
    stack = await startStack({ env: { MAX_BODY_BYTES: '2048' } });
    const answer = await post(stack.url, { query: ONE, variables: { id: '1', pad: 'x'.repeat(4000) } });
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ errors: [{ message: 'The request body exceeds 2048 bytes (MAX_BODY_BYTES).', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    expect((await stack.gql(ONE, { id: igsids(1)[0] })).errors).toBeUndefined();
  });

  it('MAX_IDS_PER_QUERY bounds the whole request, across aliased calls', async () => {
    stack = await startStack({ env: { MAX_IDS_PER_QUERY: '3' } });
    const [a, b, c, d] = igsids(4, 5500);
    const answer = await stack.gql(`{ x: instagramUsers(ids: ["${a}", "${b}"]) { id } y: instagramUsers(ids: ["${c}", "${d}"]) { id } }`);
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(answer.errors?.[0]?.message).toContain('MAX_IDS_PER_QUERY');
  });

  it('CSRF prevention stays on: a simple GET without a preflight header is refused', async () => {
    stack = await startStack();
    const response = await fetch(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('CSRF');
  });
});

/** `levels` fragments each spreading the next twice: 2^levels fields once expanded, in ~40 bytes a level. */
function doublingFragments(levels: number): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on InstagramUser { ...F${i + 1} ...F${i + 1} }`);
  return `{ instagramUser(id: "1784140000000001") { ...F0 } } ${fragments.join(' ')} fragment F${levels} on InstagramUser { username }`;
}

/** A raw connection to `url`, resolving once connected; `closed` resolves when the server drops it. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => received, closed };
}

describe('operation size: validation stays linear, every operation is bounded (built gateway)', () => {
  it('30 levels of doubling fragments (2^30 fields) are refused at once with MAX_SELECTIONS; /healthz never waits', async () => {
    sim = await startSimulator();
    child = spawnGateway({ INSTAGRAM_ACCESS_TOKEN: 'EAAtoken-limits-test', INSTAGRAM_GRAPH_URL: sim.url });
    const url = await child.ready;
    sim.resetCalls();
    // Before the fix this validation took about half an hour with the process frozen: abort instead of hanging.
    const abort = (error: unknown) => {
      child?.child.kill('SIGKILL');
      throw error;
    };
    const answer = fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: doublingFragments(30) }),
      signal: AbortSignal.timeout(15_000),
    }).catch(abort);
    const health = fetch(`${url}/healthz`, { signal: AbortSignal.timeout(15_000) }).catch(abort);
    const response = await answer;
    expect((await health).status).toBe(200);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Errors };
    expect(body.errors[0]?.message).toContain('(MAX_SELECTIONS)');
    expect(sim.calls).toHaveLength(0);
  });
});

describe('operation size (in-process)', () => {
  it('250 users × 2,000 aliased usernames: HTTP 400 naming MAX_SELECTIONS, before any upstream call', async () => {
    stack = await startStack();
    const usernames = Array.from({ length: 2000 }, (_, i) => `a${i}: username`).join(' ');
    const users = igsids(250, 5600).map((id, i) => `u${i}: instagramUser(id: "${id}") { ...U }`).join(' ');
    const answer = await stack.gql(`{ ${users} } fragment U on InstagramUser { ${usernames} }`);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(answer.errors?.[0]?.message).toBe(
      'The operation selects 500250 fields once fragments are expanded (aliases included, `sdl` weighs 100); at most 5000 are allowed (MAX_SELECTIONS).',
    );
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('a 480 KB document (250 users × 30,000 aliased usernames) stops parsing at MAX_QUERY_TOKENS: HTTP 400 naming it', async () => {
    stack = await startStack();
    const usernames = Array.from({ length: 30_000 }, (_, i) => `a${i}: username`).join(' ');
    const users = igsids(250, 5650).map((id, i) => `u${i}: instagramUser(id: "${id}") { ...U }`).join(' ');
    const answer = await stack.gql(`{ ${users} } fragment U on InstagramUser { ${usernames} }`);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(answer.errors?.[0]?.message).toMatch(/^Syntax Error: Document contains more tha[nt] 20000 tokens\. Parsing aborted \(MAX_QUERY_TOKENS\)\.$/);
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('aliased `_service { sdl }` is costed: a 9 KB request is a 400, not gigabytes and a 500', async () => {
    stack = await startStack();
    const sdl = Array.from({ length: 1000 }, (_, i) => `s${i}: sdl`).join(' ');
    const answer = await stack.gql(`{ _service { ${sdl} } }`);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]?.message).toContain('(MAX_SELECTIONS)');
    expect((await stack.gql(`{ _service { sdl } }`)).errors).toBeUndefined();
  });

  it('an answer over MAX_RESPONSE_BYTES becomes one GraphQL error naming it', async () => {
    stack = await startStack({ env: { MAX_RESPONSE_BYTES: '1024' } });
    const response = await post(stack.url, { query: `{ _service { a: sdl b: sdl } }` });
    expect(response.status).toBe(400);
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');
    expect(response.body.errors?.[0]?.message).toContain('(MAX_RESPONSE_BYTES)');
    expect((await stack.gql(ONE, { id: igsids(1, 5700)[0] })).errors).toBeUndefined();
  });
});

describe('deep variables', () => {
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('variables nested 5,000 deep (even unused) are a 400 naming MAX_VARIABLES_DEPTH, over POST and GET, with no error log', async () => {
    stack = await startStack();
    const [id] = igsids(1, 5800);
    const posted = await post(stack.url, `{"query":${JSON.stringify(ONE)},"variables":{"id":"${id}","unused":${deep(5000)}}}`);
    expect(posted.status).toBe(400);
    expect(posted.body.errors?.[0]?.message).toContain('(MAX_VARIABLES_DEPTH)');
    const query = encodeURIComponent(ONE);
    const response = await fetch(`${stack.url}/graphql?query=${query}&variables={"id":"${id}","unused":${deep(5000)}}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: Errors }).errors[0]?.message).toContain('(MAX_VARIABLES_DEPTH)');
    // Up to the limit variables pass as before.
    const shallow = await post(stack.url, `{"query":${JSON.stringify(ONE)},"variables":{"id":"${id}","unused":${deep(30)}}}`);
    expect(shallow.status).toBe(200);
    expect(stack.logs.join('\n')).not.toContain('"level":50');
  });
});

describe('every JSON answer from /graphql is a GraphQL response', () => {
  const shaped = (body: unknown, code: string) =>
    expect(body).toEqual({ errors: [{ message: expect.any(String) as string, extensions: { code } }] });

  it('415, 400 (malformed and empty JSON), 405 (PUT/DELETE), 431: GraphQL-shaped with the right status', async () => {
    stack = await startStack();
    const send = async (init: RequestInit) => {
      const response = await fetch(`${stack!.url}/graphql`, init);
      return { status: response.status, body: (await response.json()) as unknown };
    };
    const json = { 'content-type': 'application/json' };
    const textPlain = await send({ method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<q/>' });
    expect(textPlain.status).toBe(415);
    shaped(textPlain.body, 'BAD_REQUEST');
    for (const body of ['{"query": ', '', 'nul']) {
      const answer = await send({ method: 'POST', headers: json, body });
      expect(answer.status).toBe(400);
      shaped(answer.body, 'BAD_REQUEST');
    }
    for (const method of ['PUT', 'DELETE']) {
      const answer = await send({ method, headers: json, body: '{}' });
      expect(answer.status).toBe(405);
      shaped(answer.body, 'BAD_REQUEST');
    }
    const bigHeader = await send({ method: 'POST', headers: { ...json, 'x-padding': 'p'.repeat(20_000) }, body: '{}' });
    expect(bigHeader.status).toBe(431);
    shaped(bigHeader.body, 'BAD_REQUEST');
  });

  it('valid JSON with a `__proto__` key is answered, and pollutes nothing', async () => {
    stack = await startStack();
    const [id] = igsids(1, 5900);
    const answer = await post(stack.url, `{"query":${JSON.stringify(ONE)},"variables":{"id":"${id}","__proto__":{"polluted":true}},"__proto__":{"polluted":true}}`);
    expect(answer.status).toBe(200);
    expect((answer.body.data as { instagramUser: { id: string } }).instagramUser.id).toBe(id);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('slow clients', () => {
  it('a client trickling its body is cut off after REQUEST_TIMEOUT_MS with a GraphQL-shaped 408', async () => {
    stack = await startStack({ env: { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '1000' } });
    const { socket, received, closed } = await rawConnection(stack.url);
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const trickle = setInterval(() => socket.write(' '), 200);
    await closed;
    clearInterval(trickle);
    expect(received()).toMatch(/^HTTP\/1\.1 408/);
    expect(received()).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('SIGTERM with clients trickling headers and bodies: they are dropped and the process exits 0 at once', async () => {
    sim = await startSimulator();
    child = spawnGateway({ INSTAGRAM_ACCESS_TOKEN: 'EAAtoken-shutdown-test', INSTAGRAM_GRAPH_URL: sim.url, SHUTDOWN_TIMEOUT_MS: '8000' });
    const url = await child.ready;
    const body = await rawConnection(url);
    body.socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const headers = await rawConnection(url);
    headers.socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\n');
    const idle = await fetch(`${url}/healthz`);
    expect(idle.status).toBe(200);
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    await Promise.all([body.closed, headers.closed]);
    expect(child.output()).toContain('shut down cleanly');
  });
});

describe('Meta usage and throttling, per account', () => {
  it(`usage past USAGE_THROTTLE_PERCENT: the next cold id gets RATE_LIMITED without calling Meta; cached ids are still served`, async () => {
    stack = await startStack();
    stack.sim.configure({ appUsage: { call_count: 95, total_time: 10, total_cputime: 10 } });
    const [warm, cold] = igsids(2, 6000);
    expect((await stack.gql(ONE, { id: warm })).errors).toBeUndefined();
    expect(stack.sim.calls).toHaveLength(1);
    const refused = await stack.gql(ONE, { id: cold });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterSeconds: 60 });
    expect((await stack.gql(ONE, { id: warm })).errors).toBeUndefined();
    expect(stack.sim.calls).toHaveLength(1);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/igpg_account_usage_percent\{account="\d+"\} 95/);
    expect(metrics).toMatch(/igpg_account_paused_profiles_total\{account="\d+"\} 1/);
  });

  it('the BUC wait decides how long; below the threshold nothing pauses', async () => {
    stack = await startStack();
    stack.sim.configure({ businessUsage: { call_count: 92, total_time: 1, total_cputime: 1, estimated_time_to_regain_access: 3 } });
    const [a, b] = igsids(2, 6100);
    await stack.gql(ONE, { id: a });
    expect((await stack.gql(ONE, { id: b })).errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 180 });
    await stack.close();
    stack = await startStack({ env: { USAGE_THROTTLE_PERCENT: '95' }, sim: { appUsage: { call_count: 94, total_time: 1, total_cputime: 1 } } });
    for (const id of igsids(3, 6200)) expect((await stack.gql(ONE, { id })).errors).toBeUndefined();
    expect(stack.sim.calls).toHaveLength(3);
  });

  it('a throttle (code 4) with an advertised wait: no call to Meta before it ends, calls resume after', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ clock });
    const [hot, next, later] = igsids(3, 6300);
    stack.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 1 });
    expect((await stack.gql(ONE, { id: hot })).errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect(stack.sim.calls).toHaveLength(1);
    const during = await stack.gql(ONE, { id: next });
    expect(during.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect(stack.sim.calls).toHaveLength(1);
    clock.skip(1100);
    expect((await stack.gql(ONE, { id: later })).errors).toBeUndefined();
    expect(stack.sim.calls).toHaveLength(2);
  });

  it('per-object reads: the first throttled answer stops the rest of its group from being sent', async () => {
    stack = await startStack({ env: { GRAPH_BATCH_STRATEGY: 'single', GRAPH_SINGLE_CONCURRENCY: '1' } });
    const ids = igsids(10, 6350);
    stack.sim.setScenario(ids[1]!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 30 });
    const answer = await stack.gql<{ instagramUsers: Array<{ id: string } | null> }>(`query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }`, { ids });
    expect(answer.data?.instagramUsers.map((user) => user?.id ?? null)).toEqual([ids[0], ...Array(9).fill(null)]);
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(Array(9).fill('RATE_LIMITED'));
    expect(answer.errors?.[8]?.extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(29);
    expect(stack.sim.calls.map((call) => call.ids[0])).toEqual([ids[0], ids[1]]);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/igpg_account_pauses_total\{account="\d+",reason="throttled"\} 1\n/);
  });

  it('one account paused does not pause another', async () => {
    const { tempJson } = await import('./support/files.js');
    const accounts = tempJson([
      { id: '17841400000000301', accessToken: 'tok-account-301-abcdef' },
      { id: '17841400000000302', accessToken: 'tok-account-302-abcdef' },
    ]);
    stack = await startStack({
      env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accounts },
      sim: { tokens: { 'tok-account-301-abcdef': '17841400000000301', 'tok-account-302-abcdef': '17841400000000302' } },
    });
    const [hot, other] = igsids(2, 6400);
    stack.sim.setScenario(hot!, { kind: 'businessRateLimited', etaMinutes: 2 });
    const on = (account: string) => ({ 'x-instagram-account': account });
    expect((await stack.gql(ONE, { id: hot }, on('17841400000000301'))).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await stack.gql(ONE, { id: other }, on('17841400000000301'))).errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 120 });
    expect((await stack.gql(ONE, { id: other }, on('17841400000000302'))).errors).toBeUndefined();
    expect(stack.sim.calls.map((call) => call.token)).toEqual(['tok-account-301-abcdef', 'tok-account-302-abcdef']);
  });
});

describe('graceful shutdown (built gateway, real process)', () => {
  it('SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    sim = await startSimulator();
    // The proxy holds Meta's answer until the test releases it: the request stays in flight for as long as needed.
    proxy = await startGraphProxy(sim.url);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    proxy.rewrite = async (request, forward) => {
      if (!request.path.includes('/me')) await released;
      return forward();
    };
    // Keep-alive and shutdown bounds far beyond the test's timeout: only an immediate exit passes.
    child = spawnGateway({
      INSTAGRAM_ACCESS_TOKEN: 'EAAtoken-shutdown-test',
      INSTAGRAM_GRAPH_URL: proxy.url,
      KEEP_ALIVE_TIMEOUT_MS: '60000',
      SHUTDOWN_TIMEOUT_MS: '60000',
    });
    const url = await child.ready;
    const [id] = igsids(1, 7000);
    const inFlight = postGraphQL<{ instagramUser: { id: string } }>(url, ONE, { id });
    await waitFor(() => proxy!.calls.some((call) => !call.path.includes('/me')), { what: 'the profile read to reach the proxy' });
    child.child.kill('SIGTERM');
    await waitFor(() => child!.output().includes('shutting down'), { what: 'the shutdown log line' });
    // No new connection is accepted while the request is still held upstream.
    await waitFor(() => fetch(`${url}/healthz`).then(() => false, () => true), { what: 'new connections to be refused' });
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.data?.instagramUser.id).toBe(id);
    // Exits as soon as the last request is answered: the client's keep-alive connection (60 s) does not hold it open.
    expect(await child.exited).toBe(0);
    expect(child.output()).toContain('shut down cleanly');
  });

  it('SHUTDOWN_TIMEOUT_MS is the only bound: a request longer than Apollo\'s built-in 10 s drain still finishes', async () => {
    sim = await startSimulator();
    child = spawnGateway({ INSTAGRAM_ACCESS_TOKEN: 'EAAtoken-shutdown-test', INSTAGRAM_GRAPH_URL: sim.url, SHUTDOWN_TIMEOUT_MS: '20000', GRAPH_TIMEOUT_MS: '20000' });
    const url = await child.ready;
    const [id] = igsids(1, 7050);
    sim.setScenario(id!, { kind: 'slow', ms: 11_000 });
    const inFlight = postGraphQL<{ instagramUser: { id: string } }>(url, ONE, { id });
    await upstreamReached(sim);
    child.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.data?.instagramUser.id).toBe(id);
    expect(await child.exited).toBe(0);
  }, 45_000);

  it('a request outliving SHUTDOWN_TIMEOUT_MS: the process exits 1 with a log line', async () => {
    sim = await startSimulator();
    child = spawnGateway({ INSTAGRAM_ACCESS_TOKEN: 'EAAtoken-shutdown-test', INSTAGRAM_GRAPH_URL: sim.url, SHUTDOWN_TIMEOUT_MS: '300', GRAPH_TIMEOUT_MS: '20000' });
    const url = await child.ready;
    const [id] = igsids(1, 7100);
    // Slower than the test's timeout: only SHUTDOWN_TIMEOUT_MS can end the process (and then with code 1).
    sim.setScenario(id!, { kind: 'slow', ms: 60_000 });
    const inFlight = postGraphQL(url, ONE, { id }).catch(() => 'connection closed');
    await upstreamReached(sim);
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(1);
    expect(child.output()).toContain('SHUTDOWN_TIMEOUT_MS');
    await inFlight;
  });
});
