import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { HotPath } from '../../src/http/hot-path.js';
import { RecentChanges } from '../../src/http/people.js';
import type { AccountProfiles } from '../../src/profiles/account.js';
import { ManualClock } from '../support/manual-clock.js';

/** A fastify app with the hot path in front of a stand-in for Apollo that counts what it executes. */
function setup(options: { maxBytes?: number; cacheControl?: (body: { query: string }) => string; status?: number } = {}) {
  const clock = new ManualClock();
  const executed: string[] = [];
  const hits: string[] = [];
  const app: FastifyInstance = Fastify();
  const changes = new RecentChanges();
  const hot = new HotPath({
    maxBytes: options.maxBytes ?? 1 << 20,
    clock,
    authorize: (request) => {
      const account = request.headers['x-instagram-account'];
      if (account === 'refused') throw new Error('FORBIDDEN');
      return { id: typeof account === 'string' ? account : 'only' } as AccountProfiles;
    },
    onHit: (account) => hits.push(account),
    changes,
  });
  hot.register(app);
  /** What the stand-in's context saw: the people a query `{ p1 p2 }` shows are its words after `p`. */
  let during: (() => void) | undefined;
  app.post('/graphql', async (request, reply) => {
    const body = request.body as { query: string };
    const account = String(request.headers['x-instagram-account'] ?? 'only');
    const shown = new Map([...body.query.matchAll(/p(\d+)/g)].map((match) => [match[1]!, changes.now()]));
    hot.track(request, shown);
    during?.();
    executed.push(`${account}:${body.query}`);
    return reply
      .code(options.status ?? 200)
      .header('cache-control', options.cacheControl?.(body) ?? 'private, max-age=10')
      .send({ data: { account, query: body.query, n: executed.length } });
  });
  const post = (query: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ query }) });
  /** What graphql.ts does when an account hears that people changed. */
  const change = (account: string, igsids: string[]) => changes.note(account, igsids);
  return { app, clock, executed, hits, post, change, duringExecution: (run: () => void) => (during = run) };
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
    const first = await s.post('{ a }');
    await s.clock.advance(3_500);
    const second = await s.post('{ a }');
    expect(s.executed).toEqual(['only:{ a }']);
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
    await s.post('{ a }', { 'x-instagram-account': 'refused' });
    await s.post('{ a }', { 'x-instagram-account': 'refused' });
    expect(s.executed).toHaveLength(2);
  });

  it('stops answering once the answer is no longer fresh', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ a }');
    await s.clock.advance(10_000);
    await s.post('{ a }');
    expect(s.executed).toHaveLength(2);
  });

  it('never stores errors or no-store answers', async () => {
    const s = setup({ cacheControl: (body) => (body.query === '{ stale }' ? 'no-store' : 'private, max-age=10'), status: 200 });
    app = s.app;
    await s.post('{ stale }');
    await s.post('{ stale }');
    expect(s.executed).toHaveLength(2);
    const failing = setup({ status: 400 });
    await failing.post('{ a }');
    await failing.post('{ a }');
    expect(failing.executed).toHaveLength(2);
    await failing.app.close();
  });

  it('stays within HOT_PATH_MAX_BYTES: the least recently used answer goes first', async () => {
    const s = setup({ maxBytes: 700 });
    app = s.app;
    await s.post('{ a }');
    await s.post('{ b }');
    await s.post('{ c }');
    await s.post('{ a }');
    expect(s.executed).toEqual(['only:{ a }', 'only:{ b }', 'only:{ c }', 'only:{ a }']);
  });

  it('drops an answer when one of the people it shows changes, only for that account', async () => {
    const s = setup();
    app = s.app;
    await s.post('{ p1 p2 }');
    await s.post('{ p3 }');
    await s.post('{ p2 }', { 'x-instagram-account': 'other' });
    s.change('only', ['2']);
    await s.post('{ p1 p2 }');
    await s.post('{ p3 }');
    await s.post('{ p2 }', { 'x-instagram-account': 'other' });
    expect(s.executed).toEqual(['only:{ p1 p2 }', 'only:{ p3 }', 'other:{ p2 }', 'only:{ p1 p2 }']);
  });

  it('does not store an answer whose people changed while it was computed', async () => {
    const s = setup();
    app = s.app;
    s.duringExecution(() => s.change('only', ['1']));
    await s.post('{ p1 }');
    s.duringExecution(() => undefined);
    await s.post('{ p1 }');
    await s.post('{ p1 }');
    expect(s.executed).toEqual(['only:{ p1 }', 'only:{ p1 }']);
  });
});
