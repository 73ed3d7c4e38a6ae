import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { GraphField } from '../../src/graph/profile.js';
import type { ProfileOutcome } from '../../src/graph/outcomes.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import type { GroupFetcher } from '../../src/profiles/batcher.js';
import { ReplicaLink } from '../../src/replicas/link.js';
import { PooledFetcher } from '../../src/replicas/pool.js';
import { ManualClock } from '../support/manual-clock.js';
import { redisForTests, SHARED_REDIS_URL } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const redisOk = await redisForTests();
const FIELDS: GraphField[] = ['name', 'username'];
const ACCOUNT = '17841400000000000';
const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => String(from + i));

/** A Graph fetcher answering every id at once, recording each trip. */
class Upstream implements GroupFetcher {
  readonly trips: string[][] = [];
  async fetchGroup(group: string[]): Promise<Map<string, ProfileOutcome>> {
    this.trips.push(group);
    return new Map(group.map((id) => [id, { ok: true, profile: { id, name: `n${id}` } }]));
  }
}

/** A link whose `late` command runs in Redis but answers too late (as past REDIS_TIMEOUT_MS); `gate` holds the ones after it. */
class LateLink extends ReplicaLink {
  late = false;
  gate: Promise<void> | undefined;
  override async run<T>(command: Parameters<ReplicaLink['run']>[0]): Promise<T | undefined> {
    if (this.late) {
      this.late = false;
      await super.run(command);
      return undefined;
    }
    await this.gate;
    return super.run(command) as Promise<T | undefined>;
  }
}

const links: ReplicaLink[] = [];
afterEach(async () => {
  await Promise.all(links.splice(0).map((link) => link.close()));
});

/** `n` replicas (own links and fetchers) pooling through the shared Redis under a fresh prefix. */
async function replicas(n: number, clock: ManualClock) {
  const prefix = `pool-${randomUUID().slice(0, 8)}`;
  const made = Array.from({ length: n }, () => {
    const metrics = new Metrics();
    const link = new LateLink({ url: SHARED_REDIS_URL, keyPrefix: prefix, timeoutMs: 2000, logger: createLogger({ level: 'silent' }), metrics });
    links.push(link);
    const upstream = new Upstream();
    const pool = new PooledFetcher(upstream, link, { account: ACCOUNT, namespace: `${prefix}:${ACCOUNT}`, windowMs: 10, waitMs: 60_000, redisTimeoutMs: 2000, metrics, clock });
    return { link, upstream, pool, metrics };
  });
  await waitFor(() => made.every(({ link }) => link.ready()), { what: 'links on the bus' });
  return { made };
}

describe.runIf(redisOk)('PooledFetcher (partial groups of several replicas in one trip)', () => {
  it('the collector fetches its group and the one that joined in one trip; a group that would pass 50 goes alone', async () => {
    const clock = new ManualClock();
    const { made } = await replicas(3, clock);
    const [a, b, c] = made;
    const first = a!.pool.fetchGroup(ids(30, 1000), FIELDS);
    await waitFor(async () => (await a!.metrics.replicaEvents.get()).values.some((v) => v.labels.event === 'pool_opened'), { what: 'the pool opened' });
    // One id both groups need (possible when a claim timed out) travels once and reaches both.
    const second = b!.pool.fetchGroup([...ids(14, 2000), '1000'], FIELDS);
    await waitFor(async () => (await b!.metrics.replicaEvents.get()).values.some((v) => v.labels.event === 'pool_joined'), { what: 'the group joined' });
    const third = await c!.pool.fetchGroup(ids(10, 3000), FIELDS); // 30 + 15 + 10 > 50
    expect(c!.upstream.trips).toEqual([ids(10, 3000)]);
    expect(third.size).toBe(10);
    await clock.advance(10);
    const [mine, joined] = await Promise.all([first, second]);
    expect(a!.upstream.trips).toEqual([[...ids(30, 1000), ...ids(14, 2000)]]);
    expect(b!.upstream.trips).toEqual([]);
    expect(mine.get('1000')).toMatchObject({ ok: true });
    expect(joined.get('1000')).toMatchObject({ ok: true });
    expect([...joined.keys()].sort()).toEqual([...ids(14, 2000), '1000'].sort());
    expect(joined.get('2000')).toEqual({ ok: true, profile: { id: '2000', name: 'n2000' } });
  });

  it('a JOIN answered too late that opened a pool closes it: the group that joined it fetches itself without waiting', async () => {
    const clock = new ManualClock();
    const { made } = await replicas(2, clock);
    const [a, b] = made;
    const link = a!.link as LateLink;
    let open!: () => void;
    link.gate = new Promise((resolve) => (open = resolve));
    link.late = true;
    // A's JOIN opens the pool but its reply is lost: A fetches alone, unaware it owns the pool.
    const mine = await a!.pool.fetchGroup(ids(5, 4000), FIELDS);
    expect(mine.size).toBe(5);
    const joined = b!.pool.fetchGroup(ids(5, 5000), FIELDS);
    await waitFor(async () => (await b!.metrics.replicaEvents.get()).values.some((v) => v.labels.event === 'pool_joined'), { what: 'B in the orphan pool' });
    open();
    // The clock never reaches REPLICA_WAIT_MS: only A's announcement can end B's wait.
    expect((await joined).size).toBe(5);
    expect(a!.upstream.trips).toEqual([ids(5, 4000)]);
    expect(b!.upstream.trips).toEqual([ids(5, 5000)]);
  });
});

describe.runIf(redisOk)('ReplicaLink under CPU load', () => {
  it('a reply that arrived while the process was busy past REDIS_TIMEOUT_MS is taken, not counted as a slow Redis', async () => {
    const link = new ReplicaLink({ url: SHARED_REDIS_URL, keyPrefix: `lag-${randomUUID().slice(0, 8)}`, timeoutMs: 200, logger: createLogger({ level: 'silent' }), metrics: new Metrics() });
    links.push(link);
    await waitFor(() => link.ready(), { what: 'the link ready' });
    const reply = link.run((redis) => redis.ping());
    // The event loop is blocked well past the timeout right after the command (a loaded process): the
    // client may not even write it before the spell ends, so only a timeout counted after it is fair.
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      // busy
    }
    expect(await reply).toBe('PONG');
  });
});
