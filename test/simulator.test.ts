import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID, DEFAULT_MAX_LOGGED_CALLS, simulatedProfile, startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/index.js';
import { AttemptCounter, MAX_COUNTED_IGSIDS } from '../src/simulator/scenarios.js';
import { waitFor } from './support/wait.js';

// The simulator is the yardstick every gateway test measures against, so it gets its own tests,
// over real HTTP, written from GRAPH-API-FACTS.md rather than from the gateway's client.

const TOKEN = 'sim-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

interface GraphError {
  message: string;
  type: string;
  code: number;
  error_subcode?: number;
  is_transient: boolean;
  fbtrace_id: string;
}
type BatchElement = { code: number; headers?: Array<{ name: string; value: string }>; body: string } | null;

async function get(sim: Simulator, path: string, headers: Record<string, string> = auth) {
  const response = await fetch(`${sim.url}${path}`, { headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> & { error?: GraphError } };
}

async function postBatch(sim: Simulator, batch: unknown, extra: Record<string, string> = {}, path = '/v23.0/') {
  const form = new URLSearchParams({ access_token: TOKEN, batch: typeof batch === 'string' ? batch : JSON.stringify(batch), ...extra });
  const response = await fetch(`${sim.url}${path}`, { method: 'POST', body: form });
  const json = (await response.json()) as unknown;
  return { status: response.status, headers: response.headers, json };
}

const reads = (ids: string[], fields = 'username') => ids.map((id) => ({ method: 'GET', relative_url: `${id}?fields=${fields}` }));
const elementBody = (element: BatchElement) => JSON.parse(element!.body) as Record<string, unknown> & { error?: GraphError };
const headerOf = (element: BatchElement, name: string) => element?.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;

const OK = ['1784140000000001', '1784140000000002', '1784140000000003', '1784140000000004', '1784140000000005'];

describe('simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => sim.close());
  afterEach(() => {
    sim.resetCalls();
    sim.configure({ scenarios: {}, batchApi: 'enabled', legacyIds: 'removed', latencyMs: 0 });
  });

  describe('single reads', () => {
    it('answers only the requested fields plus id, from the deterministic profile', async () => {
      const id = OK[0]!;
      const answer = await get(sim, `/v23.0/${id}?fields=username,follower_count,is_verified_user`);
      expect(answer.status).toBe(200);
      const expected = simulatedProfile(id);
      expect(answer.json).toEqual({ id, username: expected.username, follower_count: expected.follower_count, is_verified_user: expected.is_verified_user });
      expect(sim.calls).toEqual([
        expect.objectContaining({ method: 'GET', path: `/v23.0/${id}`, kind: 'single', ids: [id], fields: ['username', 'follower_count', 'is_verified_user'], version: 'v23.0', status: 200, token: TOKEN, tokenLocation: 'header', appsecretProof: null, businessId: DEFAULT_BUSINESS_ID }),
      ]);
    });

    it('every profile field is served with the right type', async () => {
      const id = OK[1]!;
      const answer = await get(sim, `/v25.0/${id}?fields=id,name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user`);
      expect(answer.json).toEqual({ id, ...simulatedProfile(id) });
    });

    it('without fields answers id, name and username; works without a version prefix', async () => {
      const id = OK[2]!;
      const answer = await get(sim, `/${id}`);
      const expected = simulatedProfile(id);
      expect(answer.json).toEqual({ id, name: expected.name, username: expected.username });
      expect(sim.calls[0]).toMatchObject({ version: null, fields: [], kind: 'single' });
    });

    it('an unknown field is a (#100) nonexisting field error', async () => {
      const answer = await get(sim, `/v23.0/${OK[0]}?fields=username,email`);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toMatchObject({ code: 100, message: '(#100) Tried accessing nonexisting field (email) on node type (User)' });
    });

    it('a non-numeric object id is an unsupported get request (100/33)', async () => {
      const answer = await get(sim, '/v23.0/not-an-id?fields=username');
      expect(answer.status).toBe(400);
      expect(answer.json.error).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException' });
      expect(answer.json.error?.message).toContain("Object with ID 'not-an-id' does not exist");
    });

    it('error bodies carry the full Graph shape and a trace id matching the header', async () => {
      sim.setScenario(OK[0]!, { kind: 'consent' });
      const answer = await get(sim, `/v23.0/${OK[0]}?fields=name`);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toEqual({
        message: 'User consent is required to access user profile',
        type: 'IGApiException',
        code: 230,
        is_transient: false,
        fbtrace_id: expect.stringMatching(/^[\w-]{10,}$/),
      });
      expect(answer.headers.get('x-fb-trace-id')).toBe(answer.json.error?.fbtrace_id);
      expect(answer.headers.get('content-type')).toMatch(/application\/json/);
    });
  });

  describe('/me', () => {
    it('answers the business user_id, a username and an app-scoped id', async () => {
      const answer = await get(sim, '/v23.0/me?fields=user_id,username');
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ user_id: DEFAULT_BUSINESS_ID, username: 'sim_business_0001', id: expect.stringMatching(/^\d{10,}$/) });
      expect(answer.json.id).not.toBe(DEFAULT_BUSINESS_ID);
      expect(sim.calls[0]).toMatchObject({ kind: 'me', ids: [], fields: ['user_id', 'username'] });
    });

    it('answers the business the token maps to', async () => {
      const other = await startSimulator({ tokens: { a: '17841400000000777' } });
      try {
        const answer = await get(other, '/v23.0/me?fields=user_id', { authorization: 'Bearer a' });
        expect(answer.json).toMatchObject({ user_id: '17841400000000777' });
      } finally {
        await other.close();
      }
    });
  });

  describe('Batch API', () => {
    it('answers each sub-request on its own, in order, with null for incomplete ones', async () => {
      const [ok1, consent, blocked, lost, flaky] = OK;
      sim.setScenario(consent!, { kind: 'consent' });
      sim.setScenario(blocked!, { kind: 'blocked' });
      sim.setScenario(lost!, { kind: 'batchNull' });
      sim.setScenario(flaky!, { kind: 'transient', times: 1 });
      const ids = [ok1!, consent!, blocked!, lost!, flaky!];
      const first = await postBatch(sim, reads(ids, 'name,username'));
      expect(first.status).toBe(200);
      const elements = first.json as BatchElement[];
      expect(elements).toHaveLength(5);
      expect(elements[0]).toEqual({ code: 200, headers: [{ name: 'Content-Type', value: 'text/javascript; charset=UTF-8' }], body: expect.any(String) });
      const profile = simulatedProfile(ok1!);
      expect(elementBody(elements[0]!)).toEqual({ id: ok1, name: profile.name, username: profile.username });
      expect(elements[1]!.code).toBe(400);
      expect(elementBody(elements[1]!).error).toMatchObject({ code: 230, type: 'IGApiException' });
      expect(elements[2]!.code).toBe(400);
      expect(elementBody(elements[2]!).error).toMatchObject({ code: 100, error_subcode: 33 });
      expect(elements[3]).toBeNull();
      expect(elements[4]!.code).toBe(500);
      expect(elementBody(elements[4]!).error).toMatchObject({ code: 2, is_transient: true, message: 'An unexpected error has occurred. Please retry your request later.' });

      // The flaky id failed once; its next read (of any kind) succeeds.
      const second = await postBatch(sim, reads([flaky!]));
      expect((second.json as BatchElement[])[0]!.code).toBe(200);
      expect(sim.calls.map((call) => [call.kind, call.ids, call.tokenLocation])).toEqual([
        ['batch', ids, 'form'],
        ['batch', [flaky], 'form'],
      ]);
      expect(sim.calls[0]).toMatchObject({ method: 'POST', path: '/v23.0/', fields: ['name', 'username'], version: 'v23.0', status: 200 });
      expect(sim.roundTrips('batch')).toBe(2);
    });

    it('a batchNull id behaves normally on a single GET', async () => {
      sim.setScenario(OK[0]!, { kind: 'batchNull' });
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(200);
    });

    it('accepts every relative_url spelling, JSON bodies, and include_headers=false', async () => {
      const id = OK[0]!;
      const batch = [
        { method: 'GET', relative_url: `${id}?fields=username` },
        { method: 'GET', relative_url: `/${id}?fields=username` },
        { method: 'GET', relative_url: `v23.0/${id}?fields=username` },
        { method: 'get', relative_url: `/v19.0/${id}?fields=username` },
      ];
      const answer = await postBatch(sim, batch, { include_headers: 'false' }, '/');
      const elements = answer.json as BatchElement[];
      expect(elements.map((element) => element!.code)).toEqual([200, 200, 200, 200]);
      expect(elements.every((element) => element!.headers === undefined)).toBe(true);
      expect(new Set(elements.map((element) => element!.body)).size).toBe(1);
      expect(sim.calls[0]).toMatchObject({ version: null, ids: [id, id, id, id] });

      const json = await fetch(`${sim.url}/v23.0/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ batch: reads([id]) }),
      });
      expect(json.status).toBe(200);
      expect(((await json.json()) as BatchElement[])[0]!.code).toBe(200);
      expect(sim.calls[1]).toMatchObject({ tokenLocation: 'header', kind: 'batch' });
    });

    it('a sub-request other than GET gets an error element', async () => {
      const answer = await postBatch(sim, [{ method: 'POST', relative_url: `${OK[0]}/messages` }, { method: 'DELETE', relative_url: OK[0] }, ...reads([OK[1]!])]);
      const elements = answer.json as BatchElement[];
      expect(elements.map((element) => element!.code)).toEqual([400, 400, 200]);
      expect(elementBody(elements[0]!).error?.message).toMatch(/^Unsupported post request\. Object with ID '1784140000000001'/);
      expect(elementBody(elements[1]!).error?.message).toBe('Unsupported delete request.');
    });

    it('more than 50 sub-requests are refused with (#1)', async () => {
      const ids = Array.from({ length: 51 }, (_, i) => String(1784140000000100 + i));
      const answer = await postBatch(sim, reads(ids));
      expect(answer.status).toBe(400);
      expect((answer.json as { error: GraphError }).error).toMatchObject({ code: 1, message: '(#1) Too many requests in batch message. Maximum batch size is 50' });
      expect(sim.calls[0]).toMatchObject({ kind: 'batch', status: 400 });
      expect(sim.calls[0]!.ids).toHaveLength(51);
      const fifty = await postBatch(sim, reads(ids.slice(0, 50)));
      expect(fifty.status).toBe(200);
    });

    it('a missing or malformed batch parameter is a (#100) error', async () => {
      const missing = await fetch(`${sim.url}/v23.0/`, { method: 'POST', body: new URLSearchParams({ access_token: TOKEN }) });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: GraphError }).error).toMatchObject({ code: 100, message: 'The parameter batch is required' });
      for (const bad of ['[{', '{"a":1}', '[]', '[1,2]']) {
        const answer = await postBatch(sim, bad);
        expect(answer.status).toBe(400);
        expect((answer.json as { error: GraphError }).error.message).toMatch(/^Invalid batch/);
      }
    });

    it('refused mode answers the top-level "Unsupported post request."', async () => {
      sim.configure({ batchApi: 'refused' });
      const answer = await postBatch(sim, reads([OK[0]!]));
      expect(answer.status).toBe(400);
      expect((answer.json as { error: GraphError }).error).toMatchObject({ code: 100, type: 'GraphMethodException', message: 'Unsupported post request.' });
      expect(sim.calls[0]).toMatchObject({ kind: 'batch', ids: [OK[0]], status: 400 });
      // configure() at runtime: the same host accepts batches again.
      sim.configure({ batchApi: 'enabled' });
      expect((await postBatch(sim, reads([OK[0]!]))).status).toBe(200);
    });

    it('throttling details travel in the throttled element headers', async () => {
      sim.setScenario(OK[0]!, { kind: 'rateLimited', etaMinutes: 7, retryAfterSeconds: 90 });
      sim.setScenario(OK[1]!, { kind: 'businessRateLimited', etaMinutes: 2 });
      const answer = await postBatch(sim, reads([OK[0]!, OK[1]!, OK[2]!]));
      const [hot, buc, fine] = answer.json as BatchElement[];
      expect(elementBody(hot!).error).toMatchObject({ code: 4, message: '(#4) Application request limit reached' });
      expect(headerOf(hot!, 'Retry-After')).toBe('90');
      expect(JSON.parse(headerOf(hot!, 'X-Business-Use-Case-Usage')!)[DEFAULT_BUSINESS_ID][0].estimated_time_to_regain_access).toBe(7);
      expect(elementBody(buc!).error).toMatchObject({ code: 80002 });
      expect(JSON.parse(headerOf(buc!, 'X-Business-Use-Case-Usage')!)[DEFAULT_BUSINESS_ID][0]).toMatchObject({ estimated_time_to_regain_access: 2, call_count: 100 });
      expect(headerOf(fine!, 'Retry-After')).toBeUndefined();
      // The batch's own headers stay at the configured baseline.
      expect(JSON.parse(answer.headers.get('x-business-use-case-usage')!)[DEFAULT_BUSINESS_ID][0].estimated_time_to_regain_access).toBe(0);
    });

    it('an httpError scenario is a raw element body', async () => {
      sim.setScenario(OK[0]!, { kind: 'httpError', status: 502, body: 'Bad Gateway' });
      const [element] = (await postBatch(sim, reads([OK[0]!]))).json as BatchElement[];
      expect(element).toMatchObject({ code: 502, body: 'Bad Gateway' });
    });
  });

  describe('legacy ?ids=', () => {
    it('removed (default): HTTP 500 with the deprecation message, whatever the version', async () => {
      for (const path of ['/v23.0/', '/v19.0/', '/']) {
        const answer = await get(sim, `${path}?ids=${OK[0]},${OK[1]}&fields=username`);
        expect(answer.status).toBe(500);
        expect(answer.json.error).toMatchObject({ code: 100, is_transient: false, message: 'The ids query parameter is deprecated in v26.0+' });
      }
      expect(sim.calls.map((call) => call.kind)).toEqual(['ids', 'ids', 'ids']);
      expect(sim.calls[0]!.ids).toEqual([OK[0], OK[1]]);
    });

    it('working: an object keyed by id, at most 50 ids', async () => {
      sim.configure({ legacyIds: 'working' });
      const answer = await get(sim, `/v23.0/?ids=${OK[0]},${OK[1]}&fields=username,name`);
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({
        [OK[0]!]: { id: OK[0], username: simulatedProfile(OK[0]!).username, name: simulatedProfile(OK[0]!).name },
        [OK[1]!]: { id: OK[1], username: simulatedProfile(OK[1]!).username, name: simulatedProfile(OK[1]!).name },
      });
      const many = Array.from({ length: 51 }, (_, i) => String(1784140000000100 + i)).join(',');
      expect((await get(sim, `/v23.0/?ids=${many}&fields=username`)).json.error).toMatchObject({ code: 100 });
    });

    it('working: all-or-nothing, unknown aliases as (#803), other errors as themselves', async () => {
      sim.configure({ legacyIds: 'working' });
      sim.setScenario(OK[1]!, { kind: 'blocked' });
      sim.setScenario(OK[3]!, { kind: 'unknownUser' });
      const missing = await get(sim, `/v23.0/?ids=${OK.join(',')}&fields=username`);
      expect(missing.status).toBe(400);
      expect(missing.json.error).toMatchObject({ code: 803, message: `(#803) Some of the aliases you requested do not exist: ${OK[1]},${OK[3]}` });

      sim.configure({ scenarios: { [OK[2]!]: { kind: 'consent' } } });
      const consent = await get(sim, `/v23.0/?ids=${OK.join(',')}&fields=username`);
      expect(consent.json.error).toMatchObject({ code: 230 });
    });
  });

  describe('scenarios', () => {
    it.each([
      [{ kind: 'tokenInvalid' } as const, 400, { code: 190, error_subcode: 460, type: 'OAuthException' }],
      [{ kind: 'tokenInvalid', subcode: 463 } as const, 400, { code: 190, error_subcode: 463 }],
      [{ kind: 'permission' } as const, 403, { code: 10, message: '(#10) Application does not have permission for this action' }],
      [{ kind: 'unknownUser' } as const, 400, { code: 9010, message: 'No matching user found' }],
      [{ kind: 'rateLimited' } as const, 400, { code: 4, is_transient: true }],
      [{ kind: 'businessRateLimited' } as const, 400, { code: 80002 }],
      [{ kind: 'transient', code: 1, httpStatus: 503 } as const, 503, { code: 1, is_transient: true }],
    ])('%o', async (scenario, status, error) => {
      sim.setScenario(OK[0]!, scenario);
      const answer = await get(sim, `/v23.0/${OK[0]}?fields=username`);
      expect(answer.status).toBe(status);
      expect(answer.json.error).toMatchObject(error);
    });

    it('throttling sets the usage headers and Retry-After on a single read', async () => {
      sim.setScenario(OK[0]!, { kind: 'rateLimited', etaMinutes: 9, retryAfterSeconds: 30 });
      const answer = await get(sim, `/v23.0/${OK[0]}?fields=username`);
      expect(answer.headers.get('retry-after')).toBe('30');
      expect(JSON.parse(answer.headers.get('x-business-use-case-usage')!)).toEqual({
        [DEFAULT_BUSINESS_ID]: [{ type: 'instagram', call_count: 2, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: 9 }],
      });
      expect(JSON.parse(answer.headers.get('x-app-usage')!)).toMatchObject({ call_count: 100 });
    });

    it('transient counts attempts per IGSID across single, batch and ids reads', async () => {
      sim.configure({ legacyIds: 'working' });
      sim.setScenario(OK[0]!, { kind: 'transient', times: 3 });
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(500);
      expect(((await postBatch(sim, reads([OK[0]!]))).json as BatchElement[])[0]!.code).toBe(500);
      expect((await get(sim, `/v23.0/?ids=${OK[0]}&fields=username`)).status).toBe(500);
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(200);
      // setScenario starts the count again.
      sim.setScenario(OK[0]!, { kind: 'transient', times: 1 });
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(500);
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(200);
    });

    it('an httpError scenario answers a raw non-JSON body', async () => {
      sim.setScenario(OK[0]!, { kind: 'httpError', status: 502 });
      const answer = await get(sim, `/v23.0/${OK[0]}?fields=username`);
      expect(answer.status).toBe(502);
      expect(answer.json).toBeUndefined();
      expect(answer.text).toContain('Bad Gateway');
    });

    it('built-in demo prefixes, overridden by explicit scenarios', async () => {
      expect((await get(sim, '/v23.0/99900001?fields=username')).json.error).toMatchObject({ code: 230 });
      expect((await get(sim, '/v23.0/99910001?fields=username')).json.error).toMatchObject({ code: 100, error_subcode: 33 });
      expect((await get(sim, '/v23.0/99920001?fields=username')).json.error).toMatchObject({ code: 4 });
      for (let i = 0; i < 3; i++) expect((await get(sim, '/v23.0/99930001?fields=username')).json.error).toMatchObject({ code: 2, is_transient: true });
      sim.setScenario('99900001', { kind: 'permission' });
      expect((await get(sim, '/v23.0/99900001?fields=username')).json.error).toMatchObject({ code: 10 });
      sim.setScenario('99900001', null);
      expect((await get(sim, '/v23.0/99900001?fields=username')).json.error).toMatchObject({ code: 230 });
    });
  });

  describe('latency', () => {
    it('latencyMs delays every answer; slow ids add to it; a batch waits once', async () => {
      sim.configure({ latencyMs: 120 });
      let started = Date.now();
      await get(sim, `/v23.0/${OK[0]}?fields=username`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);

      sim.setScenario(OK[1]!, { kind: 'slow', ms: 150 });
      // 25 reads: waiting per element would take at least 25 × 120 ms = 3 s; once is 270 ms.
      const many = [...OK, ...Array.from({ length: 20 }, (_, i) => String(1784140000000100 + i))];
      started = Date.now();
      const batch = await postBatch(sim, reads(many));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(260);
      expect(elapsed).toBeLessThan(25 * 120);
      expect((batch.json as BatchElement[]).every((element) => element!.code === 200)).toBe(true);
    });

    it('logs a call when it arrives, before a slow answer is sent', async () => {
      sim.setScenario(OK[0]!, { kind: 'slow', ms: 5000 });
      const controller = new AbortController();
      let answered = false;
      const pending = fetch(`${sim.url}/v23.0/${OK[0]}?fields=username`, { headers: auth, signal: controller.signal }).then(
        () => (answered = true),
        () => 'aborted',
      );
      await waitFor(() => sim.calls.length > 0, { what: 'the call to be logged' });
      expect(sim.calls).toHaveLength(1);
      expect(answered).toBe(false);
      controller.abort();
      expect(await pending).toBe('aborted');
    });
  });

  describe('robustness', () => {
    it('unknown routes are Graph-style 404s; garbage never crashes the server', async () => {
      const unknown = await get(sim, '/v23.0/123/media?fields=id');
      expect(unknown.status).toBe(404);
      expect(unknown.json.error).toMatchObject({ code: 2500, message: 'Unknown path components: /media' });
      expect((await get(sim, '/v23/123')).status).toBe(404);
      expect((await get(sim, '/%E0%A4%A?fields=x')).json.error).toMatchObject({ code: 100 });
      const put = await fetch(`${sim.url}/v23.0/${OK[0]}`, { method: 'PUT', headers: auth, body: '\u0000garbage' });
      expect(put.status).toBe(400);
      const json = await fetch(`${sim.url}/v23.0/`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{nope' });
      expect(json.status).toBe(400);
      expect((await get(sim, `/v23.0/${OK[0]}?fields=username`)).status).toBe(200);
    });
  });
});

describe('bounded memory (a long demo run reads ever new ids)', () => {
  it('keeps only the latest maxLoggedCalls calls, while roundTrips still counts every call', async () => {
    const small = await startSimulator({ maxLoggedCalls: 100 });
    try {
      // 130 batch calls of 50 distinct ids each: 6,500 ids, as a demo run accumulates them.
      for (let call = 0; call < 130; call++) {
        const ids = Array.from({ length: 50 }, (_, i) => String(1784150000000000 + call * 50 + i));
        expect((await postBatch(small, reads(ids), {}, '/v23.0/')).status).toBe(200);
      }
      await get(small, `/v23.0/${OK[0]}?fields=username`);
      expect(small.calls).toHaveLength(100);
      expect(small.roundTrips('batch')).toBe(130);
      expect(small.roundTrips('single')).toBe(1);
      expect(small.roundTrips()).toBe(131);
      // The newest calls are the ones kept, oldest first.
      expect(small.calls.at(-1)!.kind).toBe('single');
      expect(small.calls.at(-2)!.ids.at(-1)).toBe(String(1784150000000000 + 130 * 50 - 1));
      small.resetCalls();
      expect([small.calls.length, small.roundTrips()]).toEqual([0, 0]);
    } finally {
      await small.close();
    }
  });

  it('bounds the call log by default', async () => {
    const plain = await startSimulator();
    try {
      expect(DEFAULT_MAX_LOGGED_CALLS).toBe(1_000);
      plain.configure({ maxLoggedCalls: 3 });
      for (let i = 0; i < 5; i++) await get(plain, `/v23.0/${OK[i]}?fields=username`);
      expect(plain.calls.map((call) => call.ids[0])).toEqual(OK.slice(2));
    } finally {
      await plain.close();
    }
  });

  it('remembers transient attempt counts for a bounded number of ids, forgetting the least recently read', () => {
    const attempts = new AttemptCounter(3);
    for (const id of ['a', 'b', 'c']) attempts.next(id);
    attempts.next('a');
    attempts.next('d');
    expect(attempts.size).toBe(3);
    expect(attempts.next('a')).toBe(3);
    expect(attempts.next('b')).toBe(1);
    const plenty = new AttemptCounter();
    for (let i = 0; i < MAX_COUNTED_IGSIDS + 500; i++) plenty.next(String(i));
    expect(plenty.size).toBe(MAX_COUNTED_IGSIDS);
  });
});

describe('deterministic profiles', () => {
  // The README lists these demo ids with their values.
  it('gives the documented demo values', () => {
    expect(simulatedProfile('1784140000000001')).toMatchObject({ name: 'Hiro Okafor', username: 'sim.user.000001', follower_count: 188143, is_verified_user: false });
    expect(simulatedProfile('1784140000000001').profile_pic).toMatch(/^https:\/\/scontent\.cdninstagram\.com\/v\/t51\.2885-19\/\d+_n\.jpg\?stp=dst-jpg&_nc_ht=scontent\.cdninstagram\.com&oh=00_[0-9a-f]{32}&oe=[0-9A-F]{8}$/);
    expect(simulatedProfile('1784140000000012')).toMatchObject({ name: 'Bruno Dubois', username: 'sim.user.000012', profile_pic: null, is_verified_user: true });
    expect(simulatedProfile('1784140000000014')).toMatchObject({ name: null, username: 'sim.user.000014' });
  });

  it('is stable, and about 1 in 5 names and 1 in 7 pictures are null', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => String(1784140000000000 + i));
    const at = Date.UTC(2026, 10, 1);
    expect(ids.map((id) => simulatedProfile(id, undefined, at))).toEqual(ids.map((id) => simulatedProfile(id, undefined, at)));
    const nameless = ids.filter((id) => simulatedProfile(id).name === null).length / ids.length;
    const picless = ids.filter((id) => simulatedProfile(id).profile_pic === null).length / ids.length;
    expect(nameless).toBeGreaterThan(0.15);
    expect(nameless).toBeLessThan(0.25);
    expect(picless).toBeGreaterThan(0.1);
    expect(picless).toBeLessThan(0.19);
  });

  it('oe= is the hex expiry, within the TTL from now', () => {
    const now = Date.UTC(2026, 10, 25, 12, 34, 56);
    for (const ttl of [4 * 86400, 3600, 60]) {
      const oe = parseInt(/oe=([0-9A-F]{8})/.exec(simulatedProfile('1784140000000001', undefined, now, ttl).profile_pic!)![1]!, 16);
      expect(oe).toBeLessThanOrEqual(now / 1000 + ttl);
      expect(oe).toBeGreaterThan(now / 1000 + ttl * 0.75);
    }
  });

  it('another business sees other data for the same IGSID', () => {
    const a = simulatedProfile('1784140000000001');
    const b = simulatedProfile('1784140000000001', '17841400000000777');
    expect(b).not.toEqual(a);
    expect(b.username).toBe('sim.0777.000001');
  });
});

describe('tokens, appsecret_proof and usage headers', () => {
  const BIZ_A = '17841400000000111';
  const BIZ_B = '17841400000000222';
  const SECRET = 'b-app-secret';
  const proof = (token: string, secret = SECRET) => createHmac('sha256', secret).update(token).digest('hex');
  const options: SimulatorOptions = {
    tokens: { 'token-a': BIZ_A, 'token-b': BIZ_B },
    appSecrets: { [BIZ_B]: SECRET },
    appUsage: { call_count: 28, total_time: 25, total_cputime: 24 },
    businessUsage: { call_count: 40, total_time: 30, total_cputime: 20, estimated_time_to_regain_access: 0 },
    profileOverrides: { '1784140000000001': { name: null } },
    profilesByBusiness: { [BIZ_B]: { '1784140000000002': { name: 'Only B sees this', follower_count: 7 } } },
  };
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator(options);
  });
  afterAll(async () => sim.close());
  afterEach(() => sim.resetCalls());

  it('records where the token travelled: header, query or form', async () => {
    const id = '1784140000000003';
    await get(sim, `/v23.0/${id}?fields=username`, { authorization: 'Bearer token-a' });
    await get(sim, `/v23.0/${id}?fields=username&access_token=token-a`, {});
    await fetch(`${sim.url}/v23.0/`, { method: 'POST', body: new URLSearchParams({ access_token: 'token-a', batch: JSON.stringify(reads([id])) }) });
    expect(sim.calls.map((call) => [call.token, call.tokenLocation, call.businessId, call.status])).toEqual([
      ['token-a', 'header', BIZ_A, 200],
      ['token-a', 'query', BIZ_A, 200],
      ['token-a', 'form', BIZ_A, 200],
    ]);
  });

  it('missing and unknown tokens', async () => {
    const missing = await get(sim, '/v23.0/1784140000000003?fields=username', {});
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({ code: 2500, type: 'OAuthException', message: 'An active access token must be used to query information about the current user.' });
    const unknown = await get(sim, '/v23.0/1784140000000003?fields=username', { authorization: 'Bearer nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatchObject({ code: 190, type: 'OAuthException', message: 'Invalid OAuth access token - Cannot parse access token' });
    expect(unknown.headers.get('x-app-usage')).toBeNull();
    expect(sim.calls.map((call) => [call.token, call.businessId, call.status])).toEqual([
      [null, null, 400],
      ['nope', null, 400],
    ]);
  });

  it('appsecret_proof is required and verified for a business with a secret', async () => {
    const path = '/v23.0/1784140000000003?fields=username';
    const none = await get(sim, path, { authorization: 'Bearer token-b' });
    expect(none.json.error).toMatchObject({ code: 100, message: 'API calls from the server require an appsecret_proof argument' });
    const wrong = await get(sim, `${path}&appsecret_proof=${proof('token-b', 'other-secret')}`, { authorization: 'Bearer token-b' });
    expect(wrong.json.error).toMatchObject({ code: 100, message: 'Invalid appsecret_proof provided in the API argument' });
    const right = await get(sim, `${path}&appsecret_proof=${proof('token-b')}`, { authorization: 'Bearer token-b' });
    expect(right.status).toBe(200);
    // As a form field of a batch, too.
    const form = new URLSearchParams({ access_token: 'token-b', appsecret_proof: proof('token-b'), batch: JSON.stringify(reads(['1784140000000003'])) });
    expect((await fetch(`${sim.url}/v23.0/`, { method: 'POST', body: form })).status).toBe(200);
    expect(sim.calls.at(-1)).toMatchObject({ appsecretProof: proof('token-b'), businessId: BIZ_B });
    // A business without a secret needs no proof.
    expect((await get(sim, path, { authorization: 'Bearer token-a' })).status).toBe(200);
  });

  it('sends the configured usage headers keyed by the caller business', async () => {
    const answer = await get(sim, '/v23.0/1784140000000003?fields=username', { authorization: 'Bearer token-a' });
    expect(JSON.parse(answer.headers.get('x-app-usage')!)).toEqual({ call_count: 28, total_time: 25, total_cputime: 24 });
    expect(JSON.parse(answer.headers.get('x-business-use-case-usage')!)).toEqual({
      [BIZ_A]: [{ type: 'instagram', call_count: 40, total_cputime: 20, total_time: 30, estimated_time_to_regain_access: 0 }],
    });
    expect(answer.headers.get('x-fb-trace-id')).toBeTruthy();
  });

  it('profile overrides apply everywhere; profilesByBusiness only for that business', async () => {
    const fields = 'name,username,follower_count';
    const a1 = await get(sim, `/v23.0/1784140000000001?fields=${fields}`, { authorization: 'Bearer token-a' });
    expect(a1.json.name).toBeNull();
    const a2 = (await get(sim, `/v23.0/1784140000000002?fields=${fields}`, { authorization: 'Bearer token-a' })).json;
    const b2 = (await get(sim, `/v23.0/1784140000000002?fields=${fields}&appsecret_proof=${proof('token-b')}`, { authorization: 'Bearer token-b' })).json;
    expect(b2).toMatchObject({ name: 'Only B sees this', follower_count: 7, username: 'sim.0222.000002' });
    expect(a2).toEqual({ id: '1784140000000002', ...pick(simulatedProfile('1784140000000002', BIZ_A), ['name', 'username', 'follower_count']) });
    expect(a2).not.toEqual(b2);
  });
});

describe('close()', () => {
  it('returns promptly with keep-alive sockets and a pending slow answer', async () => {
    // The answer would take longer than this test may run: only a prompt close() lets it finish.
    const sim = await startSimulator({ latencyMs: 60_000 });
    const pending = fetch(`${sim.url}/v23.0/1784140000000001`, { headers: auth }).catch(() => 'closed');
    await waitFor(() => sim.calls.length === 1, { what: 'the read to reach the simulator' });
    await sim.close();
    expect(await pending).toBe('closed');
  });
});

function pick<T extends object, K extends keyof T>(value: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as Pick<T, K>;
}
