import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID } from '../src/simulator/index.js';
import { metric, waitForMetric } from './support/metrics.js';
import { OffsetClock } from './support/offset-clock.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { deliver as deliverToReplica, startReplicas, type Replicas } from './support/replicas.js';
import { igsids, startStack, type GraphQLAnswer, type Stack } from './support/stack.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';

const ONE = 'query ($id: ID!) { instagramUser(id: $id) { username name } }';
const LOOKUPS = 'igpg_cache_lookups_total';
const redisOk = await redisForTests();

let stack: Stack | undefined;
let replicas: Replicas | undefined;
afterEach(async () => {
  await stack?.close();
  await replicas?.close();
  stack = undefined;
  replicas = undefined;
});

/** Whole-answer lookups (hot path and Apollo's response cache) of one result so far. */
const responses = (url: string, result: 'hit' | 'miss') => metric(url, LOOKUPS, { layer: 'response', result });

/** Whether `ask` was answered by the hot path: a whole-answer hit without the `age` Apollo's response cache sets. */
async function servedHot(url: string, ask: () => Promise<GraphQLAnswer>): Promise<boolean> {
  const hits = await responses(url, 'hit');
  const answer = await ask();
  return answer.status === 200 && answer.headers.get('age') === null && (await responses(url, 'hit')) === hits + 1;
}


describe('hot path: invalidated like every cache layer (end to end)', () => {
  it('a consent webhook from a person drops the whole answers showing them', async () => {
    stack = await startStack({ env: { ...WEBHOOK_ENV, CACHE_KEY_PREFIX: `hot-consent-${process.pid}` } });
    const [id, other] = igsids(2, 8100);
    const gql = stack.gql;
    // Each answer is kept by the hot path from its body's second sighting on.
    for (let i = 0; i < 2; i++) {
      await gql(ONE, { id });
      await gql(ONE, { id: other });
    }
    const url = stack.url;
    expect(await servedHot(url, () => gql(ONE, { id }))).toBe(true);

    const prefetched = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total');
    expect(await deliver(stack.url, [messageItem(id!, `hot-${randomUUID()}`, Date.now())])).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', {}, prefetched + 1);
    const missesBefore = await responses(stack.url, 'miss');
    const again = await stack.gql(ONE, { id });
    expect(again.errors).toBeUndefined();
    expect(await responses(stack.url, 'miss')).toBe(missesBefore + 1);
    // Someone else's answer stays.
    expect(await servedHot(url, () => gql(ONE, { id: other }))).toBe(true);
  });

  it('a profile refreshed ahead of expiry replaces the answer at once, not when its max-age runs out', async () => {
    const clock = new OffsetClock();
    stack = await startStack({ clock, env: { ...WEBHOOK_ENV, PROFILE_TTL_SECONDS: '600', CACHE_KEY_PREFIX: `hot-refresh-${process.pid}` } });
    const [id] = igsids(1, 8200);
    // An active contact: refresh-ahead re-reads it in the last minute before it stops being fresh.
    expect(await deliver(stack.url, [messageItem(id!, `hot-${randomUUID()}`, Date.now())])).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', {}, 1);
    const before = await stack.gql<{ instagramUser: { name: string } }>(ONE, { id });
    await stack.gql(ONE, { id }); // kept from its second sighting on
    expect(await servedHot(stack.url, () => stack!.gql(ONE, { id }))).toBe(true);

    stack.sim.configure({ profileOverrides: { [id!]: { name: 'Renamed Since' } } });
    const refreshed = await metric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' });
    clock.skip(570_000); // 30 s of freshness left: the stored answer says max-age=30
    await waitForMetric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' }, refreshed + 1, { timeout: 30_000 });
    const after = await stack.gql<{ instagramUser: { name: string } }>(ONE, { id });
    expect(before.data?.instagramUser.name).not.toBe('Renamed Since');
    expect(after.data?.instagramUser.name).toBe('Renamed Since');
  });
});

describe.runIf(redisOk)('hot path with replicas (2 gateway processes, one Redis)', () => {
  it('serves hot repeats with coordination on, and a change on replica 1 drops replica 2’s answer', async () => {
    replicas = await startReplicas(2, { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `hot-rep-${randomUUID().slice(0, 8)}` });
    const r = replicas;
    const [id] = igsids(1, 8300);
    const first = await r.gql(1, ONE, { id });
    expect({ errors: first.errors, cacheControl: first.headers.get('cache-control') }).toEqual({ errors: undefined, cacheControl: expect.stringMatching(/^private, max-age=\d+$/) });
    await r.gql(1, ONE, { id }); // kept from its second sighting on
    expect(await servedHot(r.urls[1]!, () => r.gql(1, ONE, { id }))).toBe(true);

    const invalidated = await metric(r.urls[1]!, 'igpg_replica_events_total', { event: 'invalidated' });
    expect(await deliverToReplica(r.urls[0]!, DEFAULT_BUSINESS_ID, id!, [`m-${randomUUID()}`])).toBe(200);
    await waitForMetric(r.urls[1]!, 'igpg_replica_events_total', { event: 'invalidated' }, invalidated + 1, { timeout: 15_000 });
    const missesBefore = await responses(r.urls[1]!, 'miss');
    const again = await r.gql(1, ONE, { id });
    expect(again.errors).toBeUndefined();
    expect(await responses(r.urls[1]!, 'miss')).toBe(missesBefore + 1);
  });
});
