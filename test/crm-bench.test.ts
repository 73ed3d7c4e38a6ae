import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryContactLog } from '../src/profiles/contacts.js';
import { systemClock } from '../src/clock.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';
import { metric } from './support/metrics.js';
import { waitFor } from './support/wait.js';

/**
 * Figures for the CRM notes (printed, not asserted on timing): `CRM_BENCH=1 npx vitest run test/crm-bench.test.ts`.
 * Optionally with `--pool forks --poolOptions.forks.execArgv=--expose-gc` for a steadier heap figure.
 */
const BENCH = process.env.CRM_BENCH === '1';
const N = 10_000;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function listAll(s: Stack): Promise<{ ms: number; pages: number; seen: number }> {
  const started = performance.now();
  let after: string | null = null;
  let pages = 0;
  let seen = 0;
  do {
    const answer: Awaited<ReturnType<typeof s.gql<{ instagramContacts: { edges: Array<{ node: { id: string } | null }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>>> = await s.gql(
      'query($after: String) { instagramContacts(first: 100, after: $after) { edges { cursor lastInteractionAt node { id displayName username segments } } pageInfo { hasNextPage endCursor } } }',
      { after },
    );
    expect(answer.errors).toBeUndefined();
    const connection = answer.data!.instagramContacts;
    seen += connection.edges.filter((edge) => edge.node !== null).length;
    pages += 1;
    after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
  } while (after);
  return { ms: performance.now() - started, pages, seen };
}

async function fill(s: Stack): Promise<void> {
  const ids = igsids(N, 20_000);
  const now = Date.now();
  for (let i = 0; i < N; i += 1000) {
    expect(await deliver(s.url, ids.slice(i, i + 1000).map((id, j) => messageItem(id, `m-bench-${i + j}`, now - (i + j) * 10)))).toBe(200);
  }
  await waitFor(async () => (await metric(s.url, 'igpg_webhook_prefetched_profiles_total')) >= N, { what: 'the prefetch of 10,000 profiles', timeout: 120_000 });
}

describe.runIf(BENCH)('CRM figures', () => {
  it('lists 10,000 warm contacts in pages of 100 (memory)', async () => {
    stack = await startStack({ env: { ...WEBHOOK_ENV, LOG_LEVEL: 'warn' } });
    await fill(stack);
    stack.sim.resetCalls();
    const { ms, pages, seen } = await listAll(stack);
    expect(seen).toBe(N);
    console.info(`crm: 10,000 warm contacts (memory) in ${pages} pages of 100: ${ms.toFixed(0)} ms (${(ms / pages).toFixed(1)} ms/page), ${stack.sim.roundTrips()} upstream round trips`);
  }, 300_000);

  it('lists 10,000 warm contacts in pages of 100 (Redis)', async () => {
    if (!(await redisForTests())) return;
    stack = await startStack({ env: { ...WEBHOOK_ENV, LOG_LEVEL: 'warn', REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `crm-bench-${randomUUID().slice(0, 8)}` } });
    await fill(stack);
    stack.sim.resetCalls();
    const { ms, pages, seen } = await listAll(stack);
    expect(seen).toBe(N);
    console.info(`crm: 10,000 warm contacts (Redis) in ${pages} pages of 100: ${ms.toFixed(0)} ms (${(ms / pages).toFixed(1)} ms/page), ${stack.sim.roundTrips()} upstream round trips`);
  }, 300_000);

  it('memory per 10,000 contacts without Redis', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const settle = () => {
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    const logs: MemoryContactLog[] = [];
    const before = settle();
    // Ten accounts of 10,000, realistic 16-digit IGSIDs, so one figure averages ten.
    for (let a = 0; a < 10; a++) {
      const log = new MemoryContactLog(90 * 86_400_000, 100_000, systemClock);
      const now = Date.now();
      for (let i = 0; i < N; i += 1000) await log.record(Array.from({ length: 1000 }, (_, j) => ({ igsid: String(1784140000000000 + a * N + i + j), atMs: now - i - j })));
      logs.push(log);
    }
    const after = settle();
    console.info(`crm: memory per 10,000 contacts (no Redis): ${((after - before) / 10 / 1024 / 1024).toFixed(2)} MiB (heap delta over 10 × 10,000${gc ? ', after gc' : ', no --expose-gc'})`);
    expect(logs).toHaveLength(10);
  });
});
