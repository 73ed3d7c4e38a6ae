import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createClient } from '@keyv/redis';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID } from '../src/simulator/index.js';
import { metric, waitForMetric } from './support/metrics.js';
import { OwnRedis, redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { deliver, startReplicas, type Replicas } from './support/replicas.js';
import { igsids } from './support/stack.js';
import { waitFor } from './support/wait.js';

const redisOk = await redisForTests();
const ONE = `query($id: ID!) { instagramUser(id: $id) { id username name } }`;
const LIST = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`;

let running: Replicas | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** The CACHE_KEY_PREFIX of the replicas started last (unique per test: the shared Redis is never flushed). */
let prefix = '';
async function replicas(n: number, env: Record<string, string> = {}, sim: Parameters<typeof startReplicas>[2] = {}): Promise<Replicas> {
  prefix = `rep-${randomUUID().slice(0, 8)}`;
  running = await startReplicas(n, { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix, ...env }, sim);
  return running;
}

const profileReads = (r: Replicas, igsid?: string) =>
  r.sim.calls.filter((call) => call.kind !== 'me').reduce((sum, call) => sum + (igsid ? call.ids.filter((id) => id === igsid).length : call.ids.length), 0);

describe.runIf(redisOk)('replicas sharing one Redis (3 gateway processes)', () => {
  it('one cold id asked on 3 replicas at once costs 1 upstream read; 60 cold ids cost 60', async () => {
    const r = await replicas(3, {}, { latencyMs: 150 });
    const [id] = igsids(1, 7001);
    const answers = await Promise.all([0, 1, 2].map((i) => r.gql<{ instagramUser: { id: string } }>(i, ONE, { id })));
    for (const answer of answers) expect(answer.data?.instagramUser.id).toBe(id);
    expect(profileReads(r, id)).toBe(1);

    r.sim.resetCalls();
    const ids = igsids(60, 7100);
    const lists = await Promise.all([0, 1, 2].map((i) => r.gql<{ instagramUsers: Array<{ id: string }> }>(i, LIST, { ids })));
    for (const list of lists) expect(list.data?.instagramUsers.map((user) => user.id)).toEqual(ids);
    expect(profileReads(r)).toBe(60);
    const shared = (await Promise.all(r.urls.map((url) => metric(url, 'igpg_replica_events_total', { event: 'shared' })))).reduce((a, b) => a + b, 0);
    expect(shared).toBeGreaterThanOrEqual(2 + 120);
  });

  it('a dead replica never blocks the others: its lapsed claim is fetched after REPLICA_WAIT_MS', async () => {
    const r = await replicas(2, { REPLICA_WAIT_MS: '300', REPLICA_LEASE_MS: '300' }, { latencyMs: 20 });
    const [id] = igsids(1, 7300);
    // A replica that claimed the id and died: its lease is in Redis, nobody will announce the answer.
    const redis = createClient({ url: SHARED_REDIS_URL });
    await redis.connect();
    try {
      const key = `${prefix}:${DEFAULT_BUSINESS_ID}:lease:${id}`;
      await redis.set(key, 'dead-replica', { PX: 60_000 });
      const answer = await r.gql<{ instagramUser: { id: string } }>(1, ONE, { id });
      expect(answer.data?.instagramUser.id).toBe(id);
      expect(await metric(r.urls[1]!, 'igpg_replica_events_total', { event: 'wait_timeout' })).toBe(1);
      await redis.del(key);
    } finally {
      redis.destroy();
    }
  });

  it("a replica that missed the cache just before another's trip ended takes the answer left on the lease key", async () => {
    const r = await replicas(2, {}, { latencyMs: 20 });
    const [id] = igsids(1, 7350);
    const redis = createClient({ url: SHARED_REDIS_URL });
    await redis.connect();
    try {
      // What a finished trip leaves for DONE_MS (the holder's cache write may not have landed yet).
      const done = { fields: ['name', 'username'], outcome: { ok: true, profile: { id, name: 'Left On The Key', username: 'left.on.key' } } };
      await redis.set(`${prefix}:${DEFAULT_BUSINESS_ID}:lease:${id}`, JSON.stringify(done), { PX: 60_000 });
      const answer = await r.gql<{ instagramUser: { name: string } }>(1, ONE, { id });
      expect(answer.data?.instagramUser.name).toBe('Left On The Key');
      expect(profileReads(r)).toBe(0);
    } finally {
      redis.destroy();
    }
  });

  it('a webhook on replica 1 lifts CONSENT_REQUIRED on replicas 2 and 3 within about a second', async () => {
    const r = await replicas(3, {}, { latencyMs: 20 });
    const [id] = igsids(1, 7400);
    r.sim.setScenario(id!, { kind: 'consent' });
    for (const i of [0, 1, 2]) expect((await r.gql(i, ONE, { id })).errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
    r.sim.setScenario(id!, null);
    const before = await Promise.all([1, 2].map((i) => metric(r.urls[i]!, 'igpg_replica_events_total', { event: 'invalidated' })));
    const sentAt = Date.now();
    expect(await deliver(r.urls[0]!, DEFAULT_BUSINESS_ID, id!, [`m-${randomUUID()}`])).toBe(200);
    await Promise.all([1, 2].map((i) => waitForMetric(r.urls[i]!, 'igpg_replica_events_total', { event: 'invalidated' }, before[i - 1]! + 1)));
    const heardWithinMs = Date.now() - sentAt;
    for (const i of [1, 2]) expect((await r.gql<{ instagramUser: { id: string } }>(i, ONE, { id })).data?.instagramUser.id).toBe(id);
    console.log(`invalidation reached replicas 2 and 3 within ${heardWithinMs} ms`);
  });

  it('Meta throttling seen by replica 1 pauses replicas 2 and 3: they do not call Meta', async () => {
    const r = await replicas(3, {}, { latencyMs: 20 });
    const [throttled, other] = igsids(2, 7500);
    r.sim.setScenario(throttled!, { kind: 'rateLimited', retryAfterSeconds: 60 });
    expect((await r.gql(0, ONE, { id: throttled })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    await Promise.all([1, 2].map((i) => waitForMetric(r.urls[i]!, 'igpg_replica_events_total', { event: 'pause_adopted' }, 1)));
    r.sim.resetCalls();
    for (const i of [1, 2]) expect((await r.gql(i, ONE, { id: other })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(profileReads(r)).toBe(0);
  });

  it('usage over USAGE_THROTTLE_PERCENT seen by replica 1 pauses the others', async () => {
    const r = await replicas(2, { USAGE_THROTTLE_PERCENT: '90' }, { latencyMs: 20 });
    const [first, second] = igsids(2, 7600);
    r.sim.configure({ appUsage: { call_count: 95, total_time: 10, total_cputime: 10 } });
    expect((await r.gql<{ instagramUser: { id: string } }>(0, ONE, { id: first })).data?.instagramUser.id).toBe(first);
    await waitForMetric(r.urls[1]!, 'igpg_replica_events_total', { event: 'pause_adopted' }, 1);
    r.sim.resetCalls();
    expect((await r.gql(1, ONE, { id: second })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(profileReads(r)).toBe(0);
  });

  it("auto's memory that the host refuses the Batch API is shared", async () => {
    const r = await replicas(2, { GRAPH_BATCH_STRATEGY: 'auto' }, { latencyMs: 20, batchApi: 'refused' });
    const [first, second] = igsids(2, 7700);
    expect((await r.gql<{ instagramUser: { id: string } }>(0, ONE, { id: first })).data?.instagramUser.id).toBe(first);
    await waitForMetric(r.urls[1]!, 'igpg_replica_events_total', { event: 'batch_refusal_adopted' }, 1);
    r.sim.resetCalls();
    expect((await r.gql<{ instagramUser: { id: string } }>(1, ONE, { id: second })).data?.instagramUser.id).toBe(second);
    expect(r.sim.calls.filter((call) => call.kind === 'batch')).toHaveLength(0);
  });

  const eventSum = async (r: Replicas, event: string) =>
    (await Promise.all(r.urls.map((url) => metric(url, 'igpg_replica_events_total', { event })))).reduce((a, b) => a + b, 0);

  it('partial groups of 3 replicas pool into one upstream trip', async () => {
    // A long pool window so a loaded machine still lands the three groups in it.
    const r = await replicas(3, { REPLICA_POOL_WINDOW_MS: '1000', REDIS_TIMEOUT_MS: '2000' }, { latencyMs: 20 });
    const ids = igsids(30, 7900);
    const parts = [0, 1, 2].map((i) => ids.filter((_, k) => k % 3 === i));
    const lists = await Promise.all(parts.map((part, i) => r.gql<{ instagramUsers: Array<{ id: string; username: string }> }>(i, LIST, { ids: part })));
    lists.forEach((list, i) => expect(list.data?.instagramUsers.map((user) => user.id)).toEqual(parts[i]));
    expect(r.sim.roundTrips()).toBe(1);
    expect(profileReads(r)).toBe(30);
    expect(await eventSum(r, 'pool_opened')).toBe(1);
    expect(await eventSum(r, 'pool_joined')).toBe(2);
  });

  it('200 cold clients spread round-robin over 3 replicas cost at most 8 upstream round trips, every answer right', async () => {
    const r = await replicas(3, { REPLICA_POOL_WINDOW_MS: '200', REDIS_TIMEOUT_MS: '2000' }, { latencyMs: 40 });
    const ids = igsids(200, 20_000);
    const answers = await Promise.all(ids.map((id, k) => r.gql<{ instagramUser: { id: string; username: string } }>(k % 3, ONE, { id })));
    answers.forEach((answer, k) => expect(answer.data?.instagramUser).toMatchObject({ id: ids[k] }));
    console.log(`200 cold clients over 3 replicas: ${r.sim.roundTrips()} round trips (${r.sim.calls.map((call) => call.ids.length).join(', ')} ids)`);
    expect(r.sim.roundTrips()).toBeLessThanOrEqual(8);
    expect(profileReads(r)).toBe(200);
  });

  it('a pool whose collector died costs its joiner one REPLICA_WAIT_MS, then the joiner fetches itself', async () => {
    const r = await replicas(2, { REPLICA_POOL_WINDOW_MS: '50', REPLICA_WAIT_MS: '300' }, { latencyMs: 20 });
    const [id] = igsids(1, 7950);
    const redis = createClient({ url: SHARED_REDIS_URL });
    await redis.connect();
    try {
      // A collector that opened the pool and died: nobody will close it or announce answers.
      const key = `${prefix}:${DEFAULT_BUSINESS_ID}:pool:name,username`;
      await redis.hSet(key, { owner: 'dead-collector', n: '1' });
      await redis.pExpire(key, 60_000);
      const answer = await r.gql<{ instagramUser: { id: string } }>(1, ONE, { id });
      expect(answer.data?.instagramUser.id).toBe(id);
      expect(await metric(r.urls[1]!, 'igpg_replica_events_total', { event: 'pool_joined' })).toBe(1);
      expect(await metric(r.urls[1]!, 'igpg_replica_events_total', { event: 'pool_timeout' })).toBe(1);
      expect(profileReads(r, id)).toBe(1);
      await redis.del(key);
    } finally {
      redis.destroy();
    }
  });

  it('the same redelivery reaching two replicas at the same moment is processed once', async () => {
    const r = await replicas(2, {}, { latencyMs: 20 });
    const mids = Array.from({ length: 40 }, () => `m-${randomUUID()}`);
    const [sender] = igsids(1, 7800);
    // Each message delivered alone, to both replicas at once.
    const statuses = await Promise.all(mids.flatMap((mid) => r.urls.map((url) => deliver(url, DEFAULT_BUSINESS_ID, sender!, [mid]))));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const count = async (result: string) =>
      (await Promise.all(r.urls.map((url) => metric(url, 'igpg_webhook_events_total', { result })))).reduce((a, b) => a + b, 0);
    await waitFor(async () => (await count('processed')) + (await count('duplicate')) >= 80, { what: 'both replicas to handle every delivery' });
    expect(await count('processed')).toBe(40);
    expect(await count('duplicate')).toBe(40);
  });
});


describe.runIf(redisOk)('replicas while Redis goes away and comes back', () => {
  it('soak: 2 replicas under load while Redis is killed and restarted: 0 non-200, no interaction lost, coordination resumes', async () => {
    const redis = new OwnRedis(16000 + Math.floor(Math.random() * 20000));
    await redis.start();
    try {
      const r = await replicas(2, { REDIS_URL: redis.url }, { latencyMs: 5 });
      const warm = igsids(20, 8000);
      for (const i of [0, 1]) expect((await r.gql(i, LIST, { ids: warm })).status).toBe(200);
      const statuses: number[] = [];
      const errors: unknown[] = [];
      let stop = false;
      let cold = 9000;
      const client = async (n: number) => {
        for (let k = 0; k < 3000 && !stop; k++) {
          const ids = k % 5 === 0 ? igsids(1, cold++) : warm.slice(k % 15, (k % 15) + 5);
          const answer = await r.gql(k % 2, LIST, { ids });
          statuses.push(answer.status);
          if (answer.errors) errors.push(answer.errors);
          void n;
        }
      };
      const load = Promise.all([0, 1, 2, 3].map(client));
      const served = (n: number) => waitFor(() => statuses.length >= n, { timeout: 30_000, what: `${n} answers` });
      await served(50);

      await redis.stop();
      await Promise.all(r.urls.map((url) => waitFor(async () => ((await (await fetch(`${url}/readyz`)).json()) as { cache: { status: string } }).cache.status === 'degraded', { what: 'Redis seen as away' })));
      // Interactions arrive while Redis is away: they must reach Redis once it returns.
      const senders = igsids(10, 8500);
      const at = Date.now();
      for (const sender of senders) expect(await deliver(r.urls[0]!, DEFAULT_BUSINESS_ID, sender, [`m-${randomUUID()}`], at)).toBe(200);
      await served(statuses.length + 100);

      await redis.start();
      await Promise.all([0, 1].map((i) => r.busConnected(i, 2)));
      await served(statuses.length + 100);
      stop = true;
      await load;
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(errors).toEqual([]);

      const raw = createClient({ url: redis.url });
      await raw.connect();
      try {
        const keys = senders.map((sender) => `${prefix}:${DEFAULT_BUSINESS_ID}:interaction:${sender}`);
        await waitFor(async () => (await raw.mGet(keys)).every((value) => value === String(at)), { what: 'interactions replayed into Redis' });
      } finally {
        raw.destroy();
      }

      // Coordination is back: one cold id on both replicas at once is one read.
      r.sim.resetCalls();
      const [id] = igsids(1, 8900);
      await Promise.all([0, 1].map((i) => r.gql(i, ONE, { id })));
      expect(profileReads(r, id)).toBe(1);
    } finally {
      await redis.stop();
    }
  });
});

const opensslInstalled = spawnSync('openssl', ['version']).status === 0;

describe.runIf(redisOk && opensslInstalled)('Redis as operators run it', () => {
  // A key to generate, a TLS redis-server and two gateway processes to start: more than the default 20 s under load.
  it('rediss:// (TLS, self-signed certificate trusted through NODE_EXTRA_CA_CERTS) with an ACL user and password in the URL', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'igpg-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(made.status).toBe(0);
    const port = 16000 + Math.floor(Math.random() * 20000);
    const password = `pw-${randomUUID()}`;
    const server = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--user', 'default', 'off', '--user', 'gateway', 'on', `>${password}`, '~*', '&*', '+@all'],
      { stdio: 'ignore' },
    );
    try {
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
              socket.destroy();
              resolve(true);
            });
            socket.once('error', () => resolve(false));
          }),
        { what: 'redis-server with TLS to answer' },
      );
      const url = `rediss://gateway:${encodeURIComponent(password)}@127.0.0.1:${port}`;
      const r = await replicas(2, { REDIS_URL: url, NODE_EXTRA_CA_CERTS: cert }, { latencyMs: 50 });
      for (const gatewayUrl of r.urls) {
        expect((((await (await fetch(`${gatewayUrl}/readyz`)).json()) as { cache: { status: string } }).cache.status)).toBe('ok');
      }
      const [id] = igsids(1, 9500);
      await Promise.all([0, 1].map((i) => r.gql(i, ONE, { id })));
      expect(profileReads(r, id)).toBe(1);
      for (const gateway of r.processes) expect(gateway.output()).not.toContain(password);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
