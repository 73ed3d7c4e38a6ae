import { createServer } from 'node:http';
import { connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Front } from '../../src/http/front.js';
import { Doorkeeper, HotPath } from '../../src/http/hot-path.js';
import { RecentChanges } from '../../src/http/people.js';
import { createLogger } from '../../src/logger.js';
import type { AccountProfiles } from '../../src/profiles/account.js';
import { ManualClock } from '../support/manual-clock.js';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
  json(): unknown;
}

/**
 * A fastify app with the front and its hot path (on a real loopback server, as app.ts wires it) of a
 * stand-in for Apollo that counts what it executes.
 */
function setup(options: { maxBytes?: number; maxBodyBytes?: number; cacheControl?: (body: { query: string }) => string; status?: number; faulty?: boolean } = {}) {
  const logged: string[] = [];
  const clock = new ManualClock();
  const executed: string[] = [];
  const hits: string[] = [];
  const changes = new RecentChanges();
  const front = new Front({
    maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
    authorize: (headers) => {
      const account = headers['x-instagram-account'];
      if (account === 'refused') return undefined;
      return { id: typeof account === 'string' ? account : 'only' } as AccountProfiles;
    },
    logger: createLogger({ level: 'info', secrets: [], destination: { write: (line: string) => logged.push(line) } }),
    accessLog: false,
    clock,
  });
  const hot = new HotPath({ maxBytes: options.maxBytes ?? 1 << 20, clock, readOf: (req) => front.readOf(req), onHit: (account) => hits.push(account), changes });
  if (options.faulty) {
    front.use(() => {
      throw new Error('a bug');
    });
  }
  front.use((read) => hot.answer(read));
  const app: FastifyInstance = Fastify({
    bodyLimit: options.maxBodyBytes ?? 1 << 20,
    serverFactory: (handler) => createServer((req, res) => front.handle(req, res, () => handler(req, res))),
  });
  front.register(app);
  hot.register(app);
  /** What the stand-in's context saw: the people a query `{ p1 p2 }` shows are its words after `p`. */
  let during: (() => void) | undefined;
  app.post('/graphql', async (request, reply) => {
    const operations = (Array.isArray(request.body) ? request.body : [request.body]) as Array<{ query: string }>;
    const query = operations.map((operation) => operation.query).join('+');
    const account = String(request.headers['x-instagram-account'] ?? 'only');
    const shown = new Map([...query.matchAll(/p(\d+)/g)].map((match) => [match[1]!, changes.now()]));
    hot.track(request, shown);
    during?.();
    executed.push(`${account}:${query}`);
    return reply
      .code(options.status ?? 200)
      .header('cache-control', options.cacheControl?.(operations[0]!) ?? 'private, max-age=10')
      .header('x-stand-in', 'apollo')
      .send({ data: { account, query, n: executed.length } });
  });
  let url: string | undefined;
  const send = async (body: string | ReadableStream, headers: Record<string, string> = {}): Promise<Answer> => {
    url ??= await app.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      ...(typeof body === 'string' ? {} : { duplex: 'half' }),
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, body: text, headers: Object.fromEntries(response.headers), json: () => JSON.parse(text) as unknown };
  };
  const post = (query: string, headers: Record<string, string> = {}) => send(JSON.stringify({ query }), headers);
  /** What graphql.ts does when an account hears that people changed. */
  const change = (account: string, igsids: string[]) => changes.note(account, igsids);
  return { app, clock, executed, hits, logged, post, send, change, duringExecution: (run: () => void) => (during = run), url: () => url! };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('hot path', () => {
  it('answers a repeated body from the stored bytes without running the pipeline, for what is left of max-age', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ a }');
    const first = await s.post('{ a }');
    await s.clock.advance(3_500);
    const second = await s.post('{ a }');
    // Kept from its second sighting on (Doorkeeper): one-off bodies are never stored.
    expect(s.executed).toEqual(['only:{ a }', 'only:{ a }']);
    expect(second.body).toBe(first.body);
    expect(second.headers['cache-control']).toBe('private, max-age=6');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(s.hits).toEqual(['only']);
  });

  it('keys by account: another account never gets the answer', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ a }', { 'x-instagram-account': '1' });
    const other = await s.post('{ a }', { 'x-instagram-account': '2' });
    expect(other.json()).toMatchObject({ data: { account: '2' } });
    expect(s.executed).toEqual(['1:{ a }', '2:{ a }']);
  });

  it('a request the authoriser refuses goes through the pipeline even when its body is stored', async () => {
    const s = setup();
    app = s.app;
    for (let i = 0; i < 3; i++) await s.post('{ a }', { 'x-instagram-account': 'refused' });
    expect(s.executed).toHaveLength(3);
  });

  it('stops answering once the answer is no longer fresh', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ a }');
    await s.post('{ a }');
    await s.clock.advance(9_000);
    await s.post('{ a }');
    expect(s.executed).toHaveLength(2);
    await s.clock.advance(1_000);
    await s.post('{ a }');
    expect(s.executed).toHaveLength(3);
  });

  it('never stores errors or no-store answers', async () => {
    const s = setup({ cacheControl: (body) => (body.query === '{ stale }' ? 'no-store' : 'private, max-age=10'), status: 200 });
    app = s.app;
    for (let i = 0; i < 3; i++) await s.post('{ stale }');
    expect(s.executed).toHaveLength(3);
    const failing = setup({ status: 400 });
    for (let i = 0; i < 3; i++) await failing.post('{ a }');
    expect(failing.executed).toHaveLength(3);
    await failing.app.close();
  });

  it('stays within HOT_PATH_MAX_BYTES: the least recently used answer goes first', async () => {
    const s = setup({ maxBytes: 700 });
    app = s.app;
    // Room for one answer: keeping b drops a.
    for (const query of ['{ a }', '{ a }', '{ a }', '{ b }', '{ b }', '{ b }', '{ a }']) await s.post(query);
    expect(s.executed).toEqual(['only:{ a }', 'only:{ a }', 'only:{ b }', 'only:{ b }', 'only:{ a }']);
  });

  it('drops an answer when one of the people it shows changes, only for that account', async () => {
    const s = setup();
    app = s.app;
    for (let i = 0; i < 2; i++) {
      await s.post('{ p1 p2 }');
      await s.post('{ p3 }');
      await s.post('{ p2 }', { 'x-instagram-account': 'other' });
    }
    s.executed.length = 0;
    s.change('only', ['2']);
    await s.post('{ p1 p2 }');
    await s.post('{ p3 }');
    await s.post('{ p2 }', { 'x-instagram-account': 'other' });
    expect(s.executed).toEqual(['only:{ p1 p2 }']);
  });

  it('does not store an answer whose people changed while it was computed', async () => {
    const s = setup();
    app = s.app;
    s.duringExecution(() => s.change('only', ['1']));
    await s.post('{ p1 }');
    await s.post('{ p1 }');
    s.duringExecution(() => undefined);
    await s.post('{ p1 }');
    await s.post('{ p1 }');
    expect(s.executed).toEqual(['only:{ p1 }', 'only:{ p1 }', 'only:{ p1 }']);
  });

  it('counts an answer\'s max-age from its request\'s arrival: a slow answer is not kept past its people\'s freshness', async () => {
    const s = setup();
    app = s.app;
    // Computing the answer took 4 s (max-age=10 says what is left after them): fresh until arrival + 10 s.
    s.duringExecution(() => void s.clock.advance(4_000));
    await s.post('{ a }');
    await s.post('{ a }');
    s.duringExecution(() => undefined);
    await s.clock.advance(5_500); // 9.5 s after the second request arrived: half a second left
    expect((await s.post('{ a }')).headers['cache-control']).toBe('private, max-age=0');
    await s.clock.advance(1_000);
    await s.post('{ a }');
    expect(s.executed).toHaveLength(3);
  });

  it('answers before Fastify with the stored headers, and keys by the exact bytes, Accept and Content-Type', async () => {
    const s = setup();
    app = s.app;
    const body = JSON.stringify({ query: '{ a }' });
    await s.send(body);
    const kept = await s.send(body);
    const again = await s.send(body);
    expect(again.headers['x-stand-in']).toBe('apollo');
    expect(again.body).toBe(kept.body);
    expect(s.hits).toEqual(['only']);
    // The same operation written differently, asked for another media type or sent as another type is another key.
    await s.send(JSON.stringify({ query: '{ a }' }, null, 1));
    await s.send(body, { accept: 'application/graphql-response+json' });
    await s.send(body, { 'content-type': 'application/json; charset=utf-8' });
    expect(s.executed).toHaveLength(5);
    expect(s.hits).toEqual(['only']);
  });

  it('hands a miss to Fastify with its whole body, however it arrived; a body without a length is parsed by Fastify alone', async () => {
    const s = setup();
    app = s.app;
    const long = `{ ${'x'.repeat(200_000)} }`;
    const first = await s.post(long);
    expect((first.json() as { data: { query: string } }).data.query).toBe(long);
    await s.post(long);
    await s.post(long);
    expect(s.executed).toHaveLength(2);
    // Chunked (no Content-Length): not read by the hot path, so neither answered nor kept by it.
    const chunked = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"query":'));
          controller.enqueue(new TextEncoder().encode('"{ c }"}'));
          controller.close();
        },
      });
    expect((await s.send(chunked())).status).toBe(200);
    expect((await s.send(chunked())).status).toBe(200);
    expect((await s.send(chunked())).status).toBe(200);
    expect(s.executed.slice(2)).toEqual(['only:{ c }', 'only:{ c }', 'only:{ c }']);
  });

  it('leaves a body over MAX_BODY_BYTES to Fastify, which refuses it', async () => {
    const s = setup({ maxBodyBytes: 1000 });
    app = s.app;
    expect((await s.post(`{ ${'x'.repeat(2000)} }`)).status).toBe(413);
    expect(s.executed).toHaveLength(0);
  });

  it('never keeps a batch', async () => {
    const s = setup();
    app = s.app;
    const batch = JSON.stringify([{ query: '{ a }' }, { query: '{ b }' }]);
    for (let i = 0; i < 3; i++) await s.send(batch);
    expect(s.executed).toEqual(['only:{ a }+{ b }', 'only:{ a }+{ b }', 'only:{ a }+{ b }']);
  });

  it('an answerer that throws is logged and the request goes on (to the next answerer, then Fastify): the process stays up', async () => {
    const s = setup({ faulty: true });
    app = s.app;
    for (let i = 0; i < 3; i++) expect((await s.post('{ a }')).status).toBe(200);
    // The third is the hot path's, after the faulty answerer.
    expect(s.executed).toHaveLength(2);
    expect(s.hits).toEqual(['only']);
    expect(s.logged.filter((line) => line.includes('answering before Fastify failed'))).toHaveLength(3);
  });

  it('a client that leaves mid-body costs nothing and the server goes on answering', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ a }');
    await s.post('{ a }');
    const { port } = new URL(s.url());
    await new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => {
        socket.write('POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":');
        setImmediate(() => socket.destroy());
        socket.once('close', () => resolve());
      });
    });
    expect((await s.post('{ a }')).status).toBe(200);
    expect(s.executed).toEqual(['only:{ a }', 'only:{ a }']);
  });
});

describe('hot path entries', () => {
  it('hold their bytes in a buffer of their own, not a slice of a shared pool slab HOT_PATH_MAX_BYTES would not count', () => {
    const clock = new ManualClock();
    const hot = new HotPath({ maxBytes: 1 << 20, clock, readOf: () => undefined, onHit: () => undefined, changes: new RecentChanges() });
    const read = { account: { id: 'only' } as AccountProfiles, key: 'k', body: Buffer.from('{}'), headers: {}, arrivedAt: clock.now() };
    for (const payload of ['{"data":{"a":1}}', Buffer.from('{"data":{"a":1}}')]) {
      hot.keep(read, payload, [], 10, new Map());
      hot.keep(read, payload, [], 10, new Map());
      const kept = hot.answer(read)!.payload as Buffer;
      expect(kept.toString()).toBe('{"data":{"a":1}}');
      expect(kept.buffer.byteLength).toBe(kept.length);
    }
  });
});

describe('doorkeeper', () => {
  it('remembers a key until cleared; first sightings pass for second ones rarely, even when full', () => {
    const door = new Doorkeeper();
    expect(door.seenBefore('only\n\napplication/json\n{"query":"{ a }"}')).toBe(false);
    expect(door.seenBefore('only\n\napplication/json\n{"query":"{ a }"}')).toBe(true);
    expect(door.seenBefore('only\n\napplication/json\n{"query":"{ b }"}')).toBe(false);
    // Filled to its bound (2^18 keys), then asked about as many unseen keys: few false "seen".
    for (let i = 2; i < 1 << 18; i++) door.seenBefore(`{"query":"{ user(id: ${i}) }"}`);
    let passed = 0;
    for (let i = 0; i < 10_000; i++) if (door.seenBefore(`{"query":"{ other(id: ${i}) }"}`)) passed++;
    expect(passed).toBeLessThan(100);
    // Past its bound it starts afresh: bounded memory, and old keys are first sightings again.
    expect(door.seenBefore('only\n\napplication/json\n{"query":"{ a }"}')).toBe(false);
  });
});
