import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID } from '../src/simulator/index.js';
import { createCacheStore } from '../src/profiles/cache-store.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { metric } from './support/metrics.js';
import { OwnRedis, redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, TEST_TOKEN, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { postSigned } from './support/webhook.js';

const redisOk = await redisForTests();
const ONE = `query($id: ID!) { instagramUser(id: $id) { id username name } }`;
const LIST = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }`;
const profileCalls = (stack: Stack) => stack.sim.calls.filter((call) => call.kind !== 'me');

async function readyz(stack: Stack): Promise<{ status: string; cache: { layer: string; status: string } }> {
  return (await (await fetch(`${stack.url}/readyz`)).json()) as never;
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

const APP_SECRET = 'redis-test-app-secret-5c1d';
const BUSINESS = DEFAULT_BUSINESS_ID;

/** Posts a signed messaging delivery: one message per sender, all at `timestamp`. */
async function deliverMessages(url: string, senders: readonly string[], timestamp: number): Promise<number> {
  const body = JSON.stringify({
    object: 'instagram',
    entry: [
      {
        id: BUSINESS,
        time: timestamp,
        messaging: senders.map((sender, i) => ({
          sender: { id: sender },
          recipient: { id: BUSINESS },
          timestamp,
          message: { mid: `m-${randomUUID()}-${i}`, text: 'hi' },
        })),
      },
    ],
  });
  return postSigned(url, body, APP_SECRET);
}

/** A client of the shared Redis for looking at (and planting) raw keys. */
const raw = createClient({ url: SHARED_REDIS_URL });
beforeAll(async () => {
  if (redisOk) await raw.connect();
});
afterAll(async () => {
  if (raw.isOpen) raw.destroy();
});

async function keysMatching(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of raw.scanIterator({ MATCH: pattern, COUNT: 1000 })) found.push(...batch);
  return found.sort();
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
  it('closing the store lets the Redis writes under way land (answers no longer wait for them)', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const store = createCacheStore({ maxEntries: 10_000, redisUrl: SHARED_REDIS_URL, redisTimeoutMs: 5_000, logger: createLogger({ level: 'silent' }), metrics: new Metrics() });
    await waitFor(() => store.state().status === 'ok', { what: 'the store connected to Redis' });
    const writes = Array.from({ length: 2000 }, (_, n) => ({ key: `${prefix}:${n}`, value: { n }, ttlMs: 60_000 }));
    const writing = store.setMany(writes);
    await store.close();
    await writing;
    expect(await keysMatching(`${prefix}:*`)).toHaveLength(2000);
  });

  it('closing the gateway (what SIGTERM does after the requests in flight) closes its Redis connection', async () => {
    const redis = new OwnRedis(16000 + Math.floor(Math.random() * 20000));
    await redis.start();
    const clients = async () => Number(/connected_clients:(\d+)/.exec(await redisCommand(redis.url, 'INFO clients'))?.[1]);
    try {
      const gateway = await startStack({ env: { REDIS_URL: redis.url } });
      await waitFor(async () => (await readyz(gateway)).cache.status === 'ok');
      // The gateway's four (cache, contacts and commenters, replica commands, replica bus) and this probe's.
      await waitFor(async () => (await clients()) === 5);
      await gateway.close();
      // This process is still alive: only an explicit close drops the connection.
      await waitFor(async () => (await clients()) === 1);
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
      // Answered while Redis is still down (it returns only after this): commands fail fast, never queue for a reconnect.
      const answer = await gateway.gql<{ instagramUser: { id: string } }>(ONE, { id: during });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUser.id).toBe(during);
      // Memory still answers what it holds.
      await gateway.gql(ONE, { id: before });
      expect(profileCalls(gateway)).toHaveLength(2);
      await waitFor(async () => (await readyz(gateway)).status === 'degraded');
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);

      await redis.start();
      await waitFor(async () => (await readyz(gateway)).status === 'ready');
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
      // Paused for longer than this test may run: only REDIS_TIMEOUT_MS lets the answer come (the error metric shows it fired).
      expect(await redisCommand(redis.url, 'CLIENT PAUSE 60000 ALL')).toBe('+OK');
      const answer = await gateway.gql<{ instagramUser: { id: string } }>(ONE, { id: igsids(1, 401)[0] });
      expect(answer.errors).toBeUndefined();
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/igpg_cache_errors_total\{layer="redis",operation="get"\} [1-9]/);
    } finally {
      await redis.stop();
    }
  });

  it('keeps every key family under exactly <CACHE_KEY_PREFIX>:<account>: (profiles, interactions, webhook dedupe)', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const gateway = await stack({ env: { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix, INSTAGRAM_APP_SECRET: APP_SECRET } });
    const [id] = igsids(1, 500);
    const answer = await gateway.gql<{ instagramUser: { username: string } }>(ONE, { id });
    expect(await deliverMessages(gateway.url, [id!], 1_780_000_000_000)).toBe(200);
    // Profiles, interactions, webhook dedupe, and the latest usage figure shared by replicas.
    await waitFor(async () => (await keysMatching(`*${prefix}*`)).length === 4, { what: 'four key families' });

    const keys = await keysMatching(`*${prefix}*`);
    expect(keys.filter((key) => !key.startsWith(`${prefix}:${BUSINESS}:`))).toEqual([]);
    expect(keys).toContain(`${prefix}:${BUSINESS}:${id}`);
    expect(keys).toContain(`${prefix}:${BUSINESS}:interaction:${id}`);
    expect(keys.filter((key) => key.startsWith(`${prefix}:${BUSINESS}:webhook:`))).toHaveLength(1);
    expect(keys).toContain(`${prefix}:${BUSINESS}:usage`);
    // Plain JSON values with a TTL: readable with redis-cli, purged with DEL.
    const entry = JSON.parse((await raw.get(`${prefix}:${BUSINESS}:${id}`))!) as { fields: { username: { value: string } } };
    expect(entry.fields.username.value).toBe(answer.data?.instagramUser.username);
    expect(await raw.get(`${prefix}:${BUSINESS}:interaction:${id}`)).toBe('1780000000000');
    expect(await raw.pTTL(`${prefix}:${BUSINESS}:${id}`)).toBeGreaterThan(0);
  });

  it('a malformed Redis value is a miss: the neighbours answer, nothing leaks, it is replaced, Redis is not paused', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const env = { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix };
    const ids = igsids(6, 600);
    const [emptyObject, aString, anArray, notJson, wrongField, healthy] = ids;
    const key = (id: string) => `${prefix}:${BUSINESS}:${id}`;
    await raw.set(key(emptyObject!), '{}');
    await raw.set(key(aString!), '"a string"');
    await raw.set(key(anArray!), '[1,2,3]');
    await raw.set(key(notJson!), 'not json {');
    await raw.set(key(wrongField!), JSON.stringify({ fields: { username: { value: 42, at: Date.now() } } }));
    const gateway = await stack({ env });

    const answer = await gateway.gql<{ instagramUsers: Array<{ id: string; username: string }> }>(LIST, { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUsers.map((user) => user.id)).toEqual(ids);
    expect(JSON.stringify(answer)).not.toMatch(/TypeError|Cannot read/);
    expect(await metric(gateway.url, 'igpg_cache_errors_total', { operation: 'invalid' })).toBe(5);
    // Not a Redis failure: nothing timed out, nothing was suspended.
    expect(await metric(gateway.url, 'igpg_cache_errors_total', { operation: 'get' })).toBe(0);
    // What Meta answered replaced every bad value.
    for (const id of ids) {
      const stored = JSON.parse((await raw.get(key(id)))!) as { fields: { username?: { value: unknown } } };
      expect(typeof stored.fields.username?.value).toBe('string');
    }
    // A second gateway reads them from Redis: valid now, and never copied to memory while invalid.
    const other = await stack({ env });
    await other.gql(LIST, { ids: [healthy] });
    expect(profileCalls(other)).toHaveLength(0);
  });

  it('a delivery from 2,000 senders stores every lastInteractionAt and profile in Redis', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const env = { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix, INSTAGRAM_APP_SECRET: APP_SECRET, WEBHOOK_MAX_BODY_BYTES: '4194304', PREFETCH_QUEUE_LIMIT: '2000' };
    const gateway = await stack({ env });
    const senders = igsids(2000, 10_000);
    expect(await deliverMessages(gateway.url, senders, 1_780_000_000_000)).toBe(200);
    await waitFor(async () => (await metric(gateway.url, 'igpg_webhook_prefetched_profiles_total')) >= 2000, { timeout: 90_000, what: '2,000 prefetched profiles' });

    const interactions = await keysMatching(`*${prefix}:*interaction*`);
    const profiles = (await keysMatching(`*${prefix}:*`)).filter((key) => /:\d+$/.test(key) && !key.includes('interaction'));
    console.info(`2,000-sender delivery: ${interactions.length} lastInteractionAt values and ${profiles.length} profiles reached Redis`);
    // Interaction times exist nowhere else: all of them, always.
    expect(interactions).toHaveLength(2000);
    // Profiles are a cache: only a Redis call that outlived REDIS_TIMEOUT_MS (counted) may skip some.
    if ((await metric(gateway.url, 'igpg_cache_errors_total')) === 0) expect(profiles).toHaveLength(2000);
    else expect(profiles.length).toBeGreaterThan(0);
    // Another replica sees them.
    const other = await stack({ env });
    const seen = await other.gql<{ instagramUsers: Array<{ lastInteractionAt: string | null }> }>(
      `query($ids: [ID!]!) { instagramUsers(ids: $ids) { id lastInteractionAt } }`,
      { ids: senders.slice(-50) },
    );
    expect(seen.data?.instagramUsers.every((user) => user.lastInteractionAt !== null)).toBe(true);
  }, 150_000);
});
