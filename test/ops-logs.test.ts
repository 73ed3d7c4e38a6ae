import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { UpstreamFailureLog } from '../src/upstream-log.js';
import { captureLog } from './support/log-capture.js';
import { ManualClock } from './support/manual-clock.js';
import { spawnGateway } from './support/process.js';
import { igsids, startStack } from './support/stack.js';
import { waitForLine } from './support/wait-line.js';

const A = '17841400000000101';
const B = '17841400000000202';

describe('upstream failures are logged at warn, aggregated per account and code', () => {
  it('a burst of 1000 failures is one line per account and code per interval, with the count', async () => {
    const clock = new ManualClock();
    const log = captureLog();
    const failures = new UpstreamFailureLog({ logger: log.logger, clock, intervalMs: 10_000 });
    for (let i = 0; i < 1000; i++) failures.record(A, 'UPSTREAM_UNAVAILABLE');
    for (let i = 0; i < 30; i++) failures.record(B, 'ACCESS_TOKEN_INVALID');
    for (let i = 0; i < 50; i++) failures.record(A, i % 2 ? 'ok' : 'CONSENT_REQUIRED');
    expect(log.lines).toHaveLength(0);
    await clock.advance(10_000);
    expect(log.lines.map((line) => [line.level, line.account, line.code, line.count])).toEqual([
      [40, A, 'UPSTREAM_UNAVAILABLE', 1000],
      [40, B, 'ACCESS_TOKEN_INVALID', 30],
    ]);
    // Quiet afterwards: no timer left, nothing more written.
    expect(clock.pending).toBe(0);
    failures.record(A, 'RATE_LIMITED');
    failures.flush();
    expect(log.lines.at(-1)).toMatchObject({ account: A, code: 'RATE_LIMITED', count: 1 });
    expect(clock.pending).toBe(0);
  });

  it('the interval is UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS: 10 s by default, as configured otherwise', async () => {
    expect(loadConfig({}).log.upstreamFailureIntervalMs).toBe(10_000);
    expect(() => loadConfig({ UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS: '0' })).toThrow(/UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS/);
    const clock = new ManualClock();
    const log = captureLog();
    const intervalMs = loadConfig({ UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS: '60' }).log.upstreamFailureIntervalMs;
    const failures = new UpstreamFailureLog({ logger: log.logger, clock, intervalMs });
    for (let i = 0; i < 100; i++) failures.record(A, 'UPSTREAM_ERROR');
    await clock.advance(59_999);
    expect(log.lines).toHaveLength(0);
    await clock.advance(1);
    expect(log.lines).toEqual([expect.objectContaining({ level: 40, account: A, code: 'UPSTREAM_ERROR', count: 100, intervalSeconds: 60 })]);
    // The next failure opens a new interval of the same length.
    failures.record(A, 'UPSTREAM_ERROR');
    await clock.advance(59_999);
    expect(log.lines).toHaveLength(1);
    await clock.advance(1);
    expect(log.lines.at(-1)).toMatchObject({ count: 1, intervalSeconds: 60 });
  });

  it('end to end: failing queries against an unreachable Meta reach the log (flushed at shutdown)', async () => {
    const stack = await startStack({ env: { GRAPH_MAX_RETRIES: '0', CACHE_ENABLED: 'false' } });
    await stack.sim.close();
    for (let i = 0; i < 5; i++) await stack.gql(`{ instagramUser(id: "178414000000${7000 + i}") { id } }`);
    await stack.close();
    const lines = stack.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => String(line.msg).startsWith('upstream failures'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, account: '17841400000000001', code: 'UPSTREAM_UNAVAILABLE', count: 5 });
  });
});

describe('lookups refused without calling Meta are failures an operator must see too', () => {
  it('shed (no upstream slot) and paused lookups reach the aggregated log, counted per lookup', { timeout: 60_000 }, async () => {
    const stack = await startStack({
      env: { GRAPH_BATCH_STRATEGY: 'single', CACHE_ENABLED: 'false', UPSTREAM_MAX_CONCURRENCY_PER_ACCOUNT: '1', UPSTREAM_QUEUE_LIMIT: '0', GRAPH_MAX_RETRIES: '0' },
      sim: { latencyMs: 300 },
    });
    const ONE = 'query($id: ID!) { instagramUser(id: $id) { id } }';
    // Five different people at once: one call holds the only slot, the other four are shed.
    const answers = await Promise.all(igsids(5, 8100).map((id) => stack.gql(ONE, { id })));
    const shed = answers.filter((answer) => answer.errors?.[0]?.extensions?.code === 'UPSTREAM_UNAVAILABLE').length;
    expect(shed).toBeGreaterThan(0);
    // Meta throttles one lookup: the account pauses, and the next two are refused without a call.
    const [hot, a, b] = igsids(3, 8200);
    stack.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 60 });
    for (const id of [hot, a, b]) expect((await stack.gql(ONE, { id })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    await stack.close();
    const lines = stack.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => String(line.msg).startsWith('upstream failures'));
    expect(lines.find((line) => line.code === 'UPSTREAM_UNAVAILABLE')).toMatchObject({ level: 40, count: shed });
    expect(lines.find((line) => line.code === 'RATE_LIMITED')).toMatchObject({ level: 40, count: 3 });
  });
});

describe('start-up line', () => {
  it('names the listening URL, the playground URL and the mode', { timeout: 60_000 }, async () => {
    const gateway = spawnGateway({});
    try {
      await gateway.ready;
      const line = JSON.parse(gateway.output().split('\n').find((l) => l.includes('ig-profile-gateway listening'))!) as Record<string, string>;
      expect(line.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(line.playground).toBe(`${line.address}/playground`);
      expect(line.mode).toBe('demo: simulated data');
    } finally {
      await gateway.stop();
    }
  });
});

describe('ACCESS_LOG and LOG_FORMAT', () => {
  it('ACCESS_LOG=true logs each request at info (route, status, ms; no query string); off by default', async () => {
    for (const accessLog of ['true', 'false']) {
      const stack = await startStack({ env: { ACCESS_LOG: accessLog } });
      try {
        // The third is a hot repeat, answered before Fastify: logged the same way.
        for (let i = 0; i < 3; i++) await stack.gql('{ instagramUser(id: "1784140000000001") { id } }');
        await fetch(`${stack.url}/healthz?secret-looking=1`);
        const served = stack.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request served');
        if (accessLog === 'false') expect(served).toHaveLength(0);
        else {
          expect(served.map((line) => [line.level, line.method, line.path, line.status])).toEqual([
            [30, 'POST', '/graphql', 200],
            [30, 'POST', '/graphql', 200],
            [30, 'POST', '/graphql', 200],
            [30, 'GET', '/healthz', 200],
          ]);
          expect(JSON.stringify(served)).not.toContain('secret-looking');
        }
      } finally {
        await stack.close();
      }
    }
  });

  it('LOG_FORMAT=pretty writes one readable line per entry, secrets still scrubbed', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', secrets: ['EAA-secret-token-value'], format: 'pretty', destination: { write: (line: string) => lines.push(line) } });
    logger.warn({ account: '1784', reason: 'token EAA-secret-token-value refused' }, 'upstream failures');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  upstream failures account=1784 reason=token \[redacted\] refused\n$/);
  });

  it('LOG_FORMAT=pretty in a real process', { timeout: 60_000 }, async () => {
    const gateway = spawnGateway({ LOG_FORMAT: 'pretty' });
    try {
      const line = await waitForLine(gateway, /ig-profile-gateway listening/);
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  ig-profile-gateway listening address=http:\/\/127\.0\.0\.1:\d+ /);
      expect(gateway.output()).not.toContain('{"level"');
    } finally {
      await gateway.stop();
    }
  });
});
