import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IGSID_PATTERN } from '../src/graph/profile.js';
import { startStack, type Stack } from './support/stack.js';

/**
 * A few thousand malformed requests from a seeded generator (the same ones on every run): bodies,
 * headers, variables, documents, ids, methods, raw HTTP and webhook deliveries. Whatever arrives,
 * the gateway answers 4xx or 2xx, never 5xx, keeps running, answers `/graphql` JSON in the GraphQL
 * shape, and sends Meta (the simulator) nothing but well-formed IGSIDs.
 */

const SEED = 0x1e_d6_e5;
// Client, gateway and simulator share this process: ~10 ms a request on a loaded 2-core machine.
const HTTP_CASES = 2000;
const RAW_CASES = 60;
const CONCURRENCY = 8;
const APP_SECRET = 'fuzz-app-secret-1b2c3d';
const VALID_ID = '1784140000000001';

/** mulberry32: small, fast, deterministic. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chars = (n: number, alphabet: string) => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
  return { next, int, pick, chars };
}
type Random = ReturnType<typeof random>;

const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const GRAPHQL_CHARS = '{}()[]:!$@.…"\\ \n,#=|&abcdefgiInstagramUser_id0123456789';

const BAD_IDS = [
  '', ' ', '0', '-1', '1.5', '1e16', `${VALID_ID} `, ` ${VALID_ID}`, `${VALID_ID}\n`, `${VALID_ID}/`, '../me', 'me', '%2e%2e', `${VALID_ID}?fields=access_token`,
  `${VALID_ID}&access_token=x`, `${VALID_ID},${VALID_ID}`, '１７８４１４０', '1'.repeat(21), '9'.repeat(400), 'null', '{}', '[]', '\u0000', '😀', `${VALID_ID}#x`, 'a'.repeat(70),
];
const FIELDS = ['id', 'name', 'username', 'profilePic', 'profilePicExpiresAt', 'followerCount', 'isUserFollowBusiness', 'isBusinessFollowUser', 'isVerifiedUser', '__typename', 'nope'];

function jsonValue(r: Random, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 8)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1e308, -0, 1784140000000001, 2 ** 53 + 1, 0.5]);
    case 3: return r.pick(BAD_IDS);
    case 4: return r.chars(r.int(40), PRINTABLE);
    case 5: return VALID_ID;
    case 6: return Array.from({ length: r.int(5) }, () => jsonValue(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['id', 'ids', '__proto__', 'constructor', 'x', r.chars(5, PRINTABLE)]), jsonValue(r, depth + 1)]));
  }
}

function document(r: Random): string {
  const fields = Array.from({ length: 1 + r.int(4) }, () => r.pick(FIELDS)).join(' ');
  const valid = [
    `query($id: ID!) { instagramUser(id: $id) { ${fields} } }`,
    `query($ids: [ID!]!) { instagramUsers(ids: $ids) { ${fields} } }`,
    `{ instagramUser(id: ${JSON.stringify(r.pick(BAD_IDS))}) { ${fields} } }`,
    `{ instagramUsers(ids: [${Array.from({ length: r.int(4) }, () => JSON.stringify(r.pick([...BAD_IDS, VALID_ID]))).join(',')}]) { ${fields} } }`,
    `{ a: instagramUser(id: "${VALID_ID}") { ...F } b: instagramUser(id: "${VALID_ID}") { ...F } } fragment F on InstagramUser { ${fields} ...F }`,
    `{ ${Array.from({ length: r.int(400) }, (_, i) => `a${i}: __typename`).join(' ')} }`,
    `{ instagramUser(id: "${VALID_ID}") { ${'{'.repeat(r.int(300))} } }`,
    `{ _service { ${Array.from({ length: r.int(80) }, (_, i) => `s${i}: sdl`).join(' ')} } }`,
    `{ _entities(representations: [{ __typename: "InstagramUser", id: ${JSON.stringify(r.pick(BAD_IDS))} }]) { ... on InstagramUser { ${fields} } } }`,
    `query Q($id: ID! = "${r.pick(BAD_IDS)}") @skip(if: true) { instagramUser(id: $id) @include(if: $id) { ${fields} } }`,
    `mutation { instagramUser(id: "${VALID_ID}") { id } }`,
    `subscription { instagramUser(id: "${VALID_ID}") { id } }`,
  ];
  const base = r.pick(valid);
  switch (r.int(4)) {
    case 0: return base.slice(0, r.int(base.length + 1));
    case 1: {
      const at = r.int(base.length + 1);
      return base.slice(0, at) + r.chars(1 + r.int(6), GRAPHQL_CHARS) + base.slice(at);
    }
    default: return base;
  }
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function sign(body: string, secret = APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function graphqlRequest(r: Random): FuzzRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (r.next() < 0.15) headers['content-type'] = r.pick(['text/plain', 'application/graphql', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', '', 'application/json;;']);
  if (r.next() < 0.15) headers['x-instagram-account'] = r.pick(['', 'x'.repeat(r.int(5000)), '17841400000000999', r.chars(30, PRINTABLE)]);
  if (r.next() < 0.1) headers.authorization = r.pick(['Bearer', 'Bearer ' + r.chars(20, PRINTABLE), 'Basic x', r.chars(50, PRINTABLE)]);
  if (r.next() < 0.05) headers['x-padding'] = 'p'.repeat(20_000 + r.int(20_000));
  const operation = () => {
    const op: Record<string, unknown> = { query: r.next() < 0.9 ? document(r) : jsonValue(r) };
    if (r.next() < 0.8) op.variables = r.next() < 0.8 ? { id: jsonValue(r), ids: Array.from({ length: r.int(4) }, () => jsonValue(r)) } : jsonValue(r);
    if (r.next() < 0.1) op.operationName = jsonValue(r);
    if (r.next() < 0.05) op.extensions = jsonValue(r);
    return op;
  };
  const kind = r.int(10);
  if (kind === 0) {
    // GET, with or without the CSRF preflight header.
    if (r.next() < 0.7) headers['apollo-require-preflight'] = 'true';
    const op = operation();
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(op)) params.set(key, typeof value === 'string' ? value : JSON.stringify(value) ?? '');
    if (r.next() < 0.2) params.set('variables', `{"id":${'['.repeat(r.int(6000))}}`);
    const query = params.toString();
    return { method: 'GET', path: `/graphql?${query.slice(0, 6000)}`, headers };
  }
  if (kind === 1) return { method: r.pick(['PUT', 'DELETE', 'PATCH']), path: '/graphql', headers, body: '{}' };
  let body: string;
  switch (r.int(8)) {
    case 0: body = r.chars(r.int(200), PRINTABLE); break;
    case 1: body = JSON.stringify(operation()).slice(0, r.int(120)); break;
    case 2: body = JSON.stringify(jsonValue(r)) ?? ''; break;
    case 3: body = JSON.stringify(Array.from({ length: r.int(14) }, operation)); break;
    case 4: body = `{"query":${JSON.stringify(document(r))},"variables":{"id":"${VALID_ID}","deep":${'['.repeat(40 + r.int(8000))}${']'.repeat(r.int(2) ? 8040 : 0)}}}`; break;
    case 5: body = `{"__proto__":{"polluted":true},"query":${JSON.stringify(document(r))},"constructor":{"prototype":{"polluted":true}}}`; break;
    default: body = JSON.stringify(operation());
  }
  return { method: 'POST', path: '/graphql', headers, body };
}

function webhookRequest(r: Random): FuzzRequest {
  const entry = { id: r.pick(['17841400000000001', '', 'x', VALID_ID]), time: r.int(2e9), messaging: [{ sender: { id: r.pick([...BAD_IDS, VALID_ID]) }, recipient: { id: '1' }, timestamp: r.int(2e12), message: { mid: r.chars(10, PRINTABLE), text: r.chars(20, PRINTABLE) } }] };
  const body = r.pick([JSON.stringify({ object: 'instagram', entry: [entry] }), JSON.stringify(jsonValue(r)) ?? '', r.chars(r.int(300), PRINTABLE), '']);
  const headers: Record<string, string> = { 'content-type': r.pick(['application/json', 'text/plain', 'application/json; charset=utf-8']) };
  switch (r.int(4)) {
    case 0: break;
    case 1: headers['x-hub-signature-256'] = sign(body, 'wrong-secret'); break;
    case 2: headers['x-hub-signature-256'] = r.pick(['sha256=', 'sha1=abc', r.chars(70, PRINTABLE), `sha256=${'z'.repeat(64)}`]); break;
    default: headers['x-hub-signature-256'] = sign(body);
  }
  if (r.next() < 0.1) {
    return { method: 'GET', path: `/webhooks/instagram?hub.mode=${r.pick(['subscribe', 'x', ''])}&hub.verify_token=${r.chars(8, 'abc')}&hub.challenge=${r.int(1e9)}`, headers: {} };
  }
  return { method: 'POST', path: '/webhooks/instagram', headers, body };
}

function isGraphQLShaped(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.every(isGraphQLShaped);
  if (value === null || typeof value !== 'object') return false;
  const { errors, data } = value as { errors?: unknown; data?: unknown };
  if (errors === undefined) return data !== undefined;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => typeof (e as { message?: unknown })?.message === 'string');
}

interface Failure {
  request: string;
  status: number;
  body: string;
}

let stack: Stack;
beforeAll(async () => {
  // Every call is kept (not only the simulator's default latest 1,000), so the check below sees them all.
  stack = await startStack({
    env: { INSTAGRAM_APP_SECRET: APP_SECRET, INSTAGRAM_WEBHOOK_VERIFY_TOKEN: 'fuzz-verify-token', LOG_LEVEL: 'warn' },
    sim: { maxLoggedCalls: 1_000_000 },
  });
});
afterAll(async () => stack.close());

describe('fuzz: malformed requests of every kind', () => {
  it(`${HTTP_CASES} seeded HTTP requests: no 5xx, GraphQL-shaped /graphql JSON, only valid IGSIDs reach Meta`, async () => {
    const r = random(SEED);
    const requests = Array.from({ length: HTTP_CASES }, () => (r.next() < 0.85 ? graphqlRequest(r) : webhookRequest(r)));
    const failures: Failure[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const response = await fetch(`${stack.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
        const text = await response.text();
        const shown = `${request.method} ${request.path.slice(0, 200)} ${JSON.stringify(request.headers).slice(0, 200)} ${(request.body ?? '').slice(0, 300)}`;
        if (response.status >= 500) failures.push({ request: shown, status: response.status, body: text.slice(0, 300) });
        const json = (response.headers.get('content-type') ?? '').startsWith('application/json');
        if (request.path.startsWith('/graphql') && json) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (!isGraphQLShaped(parsed)) failures.push({ request: shown, status: response.status, body: text.slice(0, 300) });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 5)).toEqual([]);

    // Meta saw only well-formed IGSIDs (and the gateway's own /me).
    const badIds = stack.sim.calls.flatMap((call) => call.ids).filter((id) => !IGSID_PATTERN.test(id));
    expect(badIds).toEqual([]);
    const badPaths = stack.sim.calls.filter((call) => call.kind === 'other').map((call) => call.path);
    expect(badPaths).toEqual([]);
    // Still serving, and no request crashed into an error log line.
    expect((await stack.gql(`{ instagramUser(id: "${VALID_ID}") { id } }`)).data).toEqual({ instagramUser: { id: VALID_ID } });
    expect(stack.logs.filter((line) => line.includes('"level":50')).slice(0, 3)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Bounded by its count; the time limit only guards against a hang (a loaded 2-core machine is slow).
  }, 240_000);

  it(`${RAW_CASES} malformed raw HTTP requests are refused with 4xx, GraphQL-shaped`, async () => {
    const r = random(SEED + 1);
    const { hostname, port } = new URL(stack.url);
    const raw = (): string =>
      r.pick([
        () => `${r.chars(1 + r.int(20), PRINTABLE)}\r\n\r\n`,
        () => `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.pick(['-1', 'abc', '1e3', '99999999999999999999'])}\r\n\r\n{}`,
        () => `POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${r.chars(10, 'zq')}\r\n`,
        () => `GET /graphql HTTP/9.9\r\nHost: x\r\n\r\n`,
        () => `POST /graphql HTTP/1.1\r\nHost: x\r\n${r.chars(10, 'ab')} : broken\r\nContent-Length: 2\r\n\r\n{}`,
        () => `GET /graphql?${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ])();
    for (let i = 0; i < RAW_CASES; i++) {
      const request = raw();
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname, () => socket.end(request));
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
        socket.on('error', () => resolve(received));
        socket.on('close', () => resolve(received));
      });
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      expect(status, request.slice(0, 100)).toBeGreaterThanOrEqual(400);
      expect(status, request.slice(0, 100)).toBeLessThan(500);
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      if (/content-type: application\/json/i.test(answer) && body.trim()) expect(isGraphQLShaped(JSON.parse(body)), body).toBe(true);
    }
  }, 120_000);
});
