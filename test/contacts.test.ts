import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { createCommenterLog } from '../src/profiles/commenters.js';
import { createContactLog, MemoryContactLog, type ContactLog } from '../src/profiles/contacts.js';
import { CrmRedis } from '../src/profiles/crm-redis.js';
import { ManualClock } from './support/manual-clock.js';
import { OwnRedis, redisForTests, redisServerInstalled, SHARED_REDIS_URL } from './support/redis.js';
import { waitFor } from './support/wait.js';

const DAY = 86_400_000;
const quiet = createLogger({ level: 'silent' });

async function connected(url: string, timeoutMs = 100): Promise<CrmRedis> {
  const redis = new CrmRedis(url, timeoutMs, quiet, new Metrics());
  await waitFor(async () => (await redis.run('ping', ['PING'])) === 'PONG', { what: 'Redis' });
  return redis;
}

async function all(log: ContactLog, pageSize: number): Promise<string[]> {
  const out: string[] = [];
  let after;
  for (let i = 0; i < 1000; i++) {
    const page = await log.page(after, pageSize);
    out.push(...page.map((contact) => `${contact.atMs}:${contact.igsid}`));
    if (page.length < pageSize) break;
    after = page.at(-1);
  }
  return out;
}

/** The same behaviour whatever the store: order, ties, paging, never backwards, bounds. */
function behaves(name: string, make: (clock: ManualClock, max: number) => Promise<ContactLog>) {
  describe(name, () => {
    it('orders by time then IGSID, both descending, and pages through ties exactly once', async () => {
      const clock = new ManualClock();
      const log = await make(clock, 100);
      const t = clock.now();
      for (const [igsid, at] of [['5', t - 10], ['7', t], ['3', t], ['9', t], ['1', t - 10], ['2', t - 20]] as const) await log.record([{ igsid, atMs: at }]);
      const expected = [`${t}:9`, `${t}:7`, `${t}:3`, `${t - 10}:5`, `${t - 10}:1`, `${t - 20}:2`];
      for (const size of [1, 2, 4, 6, 10]) expect(await all(log, size), `pages of ${size}`).toEqual(expected);
      // Older news never moves a person back; newer news moves them to the top.
      await log.record([{ igsid: '9', atMs: t - 30 }]);
      await log.record([{ igsid: '2', atMs: t + 5 }]);
      expect(await all(log, 3)).toEqual([`${t + 5}:2`, `${t}:9`, `${t}:7`, `${t}:3`, `${t - 10}:5`, `${t - 10}:1`]);
    });

    it('drops people past the retention and the least recent beyond the count bound', async () => {
      const clock = new ManualClock();
      const log = await make(clock, 3);
      const t = clock.now();
      await log.record([1, 2, 3, 4, 5].map((i) => ({ igsid: String(i), atMs: t + i })));
      expect(await all(log, 10)).toEqual([`${t + 5}:5`, `${t + 4}:4`, `${t + 3}:3`]);
      await clock.advance(90 * DAY + 4);
      expect(await all(log, 10)).toEqual([`${t + 5}:5`, `${t + 4}:4`]);
      // A late delivery already past retention never shows.
      await log.record([{ igsid: '8', atMs: clock.now() - 91 * DAY }]);
      expect(await all(log, 10)).toEqual([`${t + 5}:5`, `${t + 4}:4`]);
    });
  });
}

behaves('contacts in memory', async (clock, max) => new MemoryContactLog(90 * DAY, max, clock));

describe('with Redis', async () => {
  const haveRedis = await redisForTests();
  let redis: CrmRedis;
  beforeAll(async () => {
    if (haveRedis) redis = await connected(SHARED_REDIS_URL);
  });
  afterAll(() => redis?.close());

  if (haveRedis) {
    behaves('contacts in Redis', async (clock, max) =>
      createContactLog({ namespace: `crm-unit-${randomUUID().slice(0, 8)}:1784`, retentionMs: 90 * DAY, maxEntries: max, clock, redis }),
    );
  }

  it.runIf(haveRedis)('commenters: a handle per person, forgotten after the retention, at most the count bound', async () => {
    const clock = new ManualClock();
    const log = createCommenterLog({ namespace: `crm-unit-${randomUUID().slice(0, 8)}:1784`, retentionMs: 90 * DAY, maxEntries: 2, clock, redis });
    await log.remember('11', 'first.one', clock.now());
    await log.remember('12', 'second.one', clock.now() + 1);
    await log.remember('13', 'third.one', clock.now() + 2);
    expect(await Promise.all(['11', '12', '13', '14'].map((id) => log.usernameOf(id)))).toEqual([null, 'second.one', 'third.one', null]);
    await clock.advance(90 * DAY + 2);
    expect(await log.usernameOf('12')).toBeNull();
    expect(await log.usernameOf('13')).toBe('third.one');
  });

  it.runIf(haveRedis && redisServerInstalled)('a Redis outage never fails a call: memory answers, and missed writes reach Redis when it returns', async () => {
    const own = new OwnRedis(6390 + Math.floor(Math.random() * 500));
    await own.start();
    const down = await connected(own.url);
    try {
      const clock = new ManualClock();
      const options = { namespace: `crm-unit-${randomUUID().slice(0, 8)}:1784`, retentionMs: 90 * DAY, maxEntries: 100, clock, redis: down };
      const log = createContactLog(options);
      await log.record([{ igsid: '1', atMs: clock.now() }]);
      await own.stop();
      await log.record([{ igsid: '2', atMs: clock.now() + 1 }]);
      expect(await all(log, 10)).toEqual([`${clock.now() + 1}:2`, `${clock.now()}:1`]);
      await own.start();
      await waitFor(async () => (await down.run('ping', ['PING'])) === 'PONG', { what: 'Redis back', timeout: 10_000 });
      // The write Redis missed is replayed on the next call; another replica (a fresh log) sees it.
      await log.page(undefined, 1);
      expect(await all(createContactLog(options), 10)).toEqual([`${clock.now() + 1}:2`]);
    } finally {
      down.close();
      await own.stop();
    }
  });
});
