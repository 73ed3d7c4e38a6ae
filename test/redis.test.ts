import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnRedis, redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, TEST_TOKEN, type Stack } from './support/stack.js';

const redisOk = await redisForTests();
const ONE = `query($id: ID!) { instagramUser(id: $id) { id username name } }`;
const LIST = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const profileCalls = (stack: Stack) => stack.sim.calls.filter((call) => call.kind !== 'me');

async function readyz(stack: Stack): Promise<{ status: string; cache: { layer: string; status: string } }> {
  return (await (await fetch(`${stack.url}/readyz`)).json()) as never;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

/** Sends one raw Redis command (inline protocol) and resolves with the first reply line. */
function redisCommand(url: string, command: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().trim());
    });
    socket.once('error', reject);
  });
}

const stacks: Stack[] = [];
async function stack(options: Parameters<typeof startStack>[0]): Promise<Stack> {
  const started = await startStack(options);
  stacks.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

describe.runIf(redisOk)('Redis cache', () => {
  it('closing the gateway (what SIGTERM does after the requests in flight) closes its Redis connection', async () => {
    const redis = new OwnRedis(16000 + Math.floor(Math.random() * 20000));
    await redis.start();
    const clients = async () => Number(/connected_clients:(\d+)/.exec(await redisCommand(redis.url, 'INFO clients'))?.[1]);
    try {
      const gateway = await startStack({ env: { REDIS_URL: redis.url } });
      await until(async () => (await readyz(gateway)).cache.status === 'ok', 3000);
      // The gateway's two connections (profile cache; contacts and commenters) and this probe's.
      await until(async () => (await clients()) === 3, 3000);
      await gateway.close();
      // This process is still alive: only an explicit close drops the connection.
      await until(async () => (await clients()) === 1, 2000);
    } finally {
      await redis.stop();
    }
  });

  it('a restarted gateway answers from Redis with no upstream call', async () => {
    const env = { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `t-${randomUUID().slice(0, 8)}` };
    const first = await stack({ env });
    const ids = igsids(60, 100);
    const cold = await first.gql(LIST, { ids });
    expect(profileCalls(first)).toHaveLength(2);
    await first.close();
    stacks.splice(stacks.indexOf(first), 1);

    const second = await stack({ env });
    const warm = await second.gql(LIST, { ids });
    expect(warm.data).toEqual(cold.data);
    expect(profileCalls(second)).toHaveLength(0);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toMatch(/igpg_cache_lookups_total\{account="\d+",layer="redis",result="hit"\} 60/);
  });

  it('never serves one business account\'s entry to another, on a shared Redis', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const env = { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix };
    const [id] = igsids(1, 200);
    const accountA = await stack({ env, sim: { tokens: { [TEST_TOKEN]: '17841400000000101' } } });
    const accountB = await stack({ env, sim: { tokens: { [TEST_TOKEN]: '17841400000000202' } } });
    const a = await accountA.gql<{ instagramUser: { username: string } }>(ONE, { id });
    const b = await accountB.gql<{ instagramUser: { username: string } }>(ONE, { id });
    expect(profileCalls(accountB)).toHaveLength(1);
    expect(a.data?.instagramUser.username).not.toEqual(b.data?.instagramUser.username);
    // Cached now on both sides, still each its own.
    const a2 = await accountA.gql<{ instagramUser: { username: string } }>(ONE, { id });
    const b2 = await accountB.gql<{ instagramUser: { username: string } }>(ONE, { id });
    expect([a2.data, b2.data]).toEqual([a.data, b.data]);
    expect(profileCalls(accountA)).toHaveLength(1);
    expect(profileCalls(accountB)).toHaveLength(1);
  });

  it('keeps answering while Redis is down, reports degraded, and recovers when it returns', async () => {
    const redis = new OwnRedis(16000 + Math.floor(Math.random() * 20000));
    await redis.start();
    try {
      const env = { REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'outage', REDIS_TIMEOUT_MS: '100' };
      const gateway = await stack({ env });
      const [before, during, after] = igsids(3, 300);
      await gateway.gql(ONE, { id: before });
      expect(await readyz(gateway)).toMatchObject({ status: 'ready', cache: { layer: 'redis', status: 'ok' } });

      await redis.stop();
      const started = Date.now();
      const answer = await gateway.gql<{ instagramUser: { id: string } }>(ONE, { id: during });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUser.id).toBe(during);
      expect(Date.now() - started).toBeLessThan(1000);
      // Memory still answers what it holds.
      await gateway.gql(ONE, { id: before });
      expect(profileCalls(gateway)).toHaveLength(2);
      await until(async () => (await readyz(gateway)).status === 'degraded', 3000);
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);

      await redis.start();
      await until(async () => (await readyz(gateway)).status === 'ready', 8000);
      await gateway.gql(ONE, { id: after });
      // Written to the restarted Redis: a fresh gateway reads it without calling Meta.
      const fresh = await stack({ env });
      await fresh.gql(ONE, { id: after });
      expect(profileCalls(fresh)).toHaveLength(0);
    } finally {
      await redis.stop();
    }
  });

  it('a Redis that stops answering (paused) costs at most REDIS_TIMEOUT_MS, never an error', async () => {
    const redis = new OwnRedis(16000 + Math.floor(Math.random() * 20000));
    await redis.start();
    try {
      const gateway = await stack({ env: { REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'paused', REDIS_TIMEOUT_MS: '100' } });
      await gateway.gql(ONE, { id: igsids(1, 400)[0] });
      expect(await redisCommand(redis.url, 'CLIENT PAUSE 1500 ALL')).toBe('+OK');
      const started = Date.now();
      const answer = await gateway.gql<{ instagramUser: { id: string } }>(ONE, { id: igsids(1, 401)[0] });
      expect(answer.errors).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(800);
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/igpg_cache_errors_total\{layer="redis",operation="get"\} [1-9]/);
    } finally {
      await redis.stop();
    }
  });
});
