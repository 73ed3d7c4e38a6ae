import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { metric, scrapeMetrics } from './support/metrics.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';

/** Issue 14 item 5: metrics that count what they say. */
const ONE = `query($id: ID!) { instagramUser(id: $id) { id username } }`;
let stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  stacks = [];
});
async function stack(options: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  const s = await startStack(options);
  stacks.push(s);
  return s;
}

describe('metrics count what they say', () => {
  it('no series stays labelled account="pending" once the id is learned from /me', async () => {
    const s = await stack();
    await s.gql(ONE, { id: igsids(1, 3100)[0] });
    const series = await scrapeMetrics(s.url);
    expect(series.filter((sample) => sample.labels['account'] === 'pending')).toEqual([]);
    // The /me round trip is still counted, under the real account id.
    expect(await metric(s.url, 'igpg_upstream_round_trips_total', { kind: 'me' })).toBe(1);
  });

  it('lookups refused during a pause are not "asked upstream": only paused', async () => {
    const s = await stack({ env: { GRAPH_BATCH_STRATEGY: 'single' } });
    const [hot, a, b] = igsids(3, 3200);
    s.sim.setScenario(hot!, { kind: 'rateLimited', etaMinutes: 0, retryAfterSeconds: 60 });
    expect((await s.gql(ONE, { id: hot })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    for (const id of [a, b]) expect((await s.gql(ONE, { id })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(s.sim.roundTrips('single')).toBe(1);
    expect(await metric(s.url, 'igpg_upstream_profiles_total', { result: 'RATE_LIMITED' })).toBe(1);
    expect(await metric(s.url, 'igpg_account_paused_profiles_total')).toBe(2);
  });

  it('a redelivered webhook is one more accepted delivery and a duplicate item, never a "duplicate" delivery', async () => {
    const s = await stack({ env: WEBHOOK_ENV });
    const item = messageItem(igsids(1, 3300)[0]!, 'm-redelivered', Date.now());
    expect(await deliver(s.url, [item])).toBe(200);
    expect(await deliver(s.url, [item])).toBe(200);
    await waitFor(async () => (await metric(s.url, 'igpg_webhook_events_total', { result: 'duplicate' })) === 1, { what: 'the duplicate item' });
    expect(await metric(s.url, 'igpg_webhook_deliveries_total', { result: 'accepted' })).toBe(2);
    expect(await metric(s.url, 'igpg_webhook_deliveries_total', { result: 'duplicate' })).toBe(0);
  });

  it('with Redis, a full miss is counted at the redis layer (the last one consulted)', async () => {
    if (!(await redisForTests())) return;
    const s = await stack({ env: { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `m-${randomUUID().slice(0, 8)}` } });
    await waitFor(async () => s.gateway.store!.state().status === 'ok', { what: 'Redis to be ready' });
    await s.gql(ONE, { id: igsids(1, 3400)[0] });
    expect(await metric(s.url, 'igpg_cache_lookups_total', { layer: 'redis', result: 'miss' })).toBe(1);
    expect(await metric(s.url, 'igpg_cache_lookups_total', { layer: 'memory', result: 'miss' })).toBe(0);
  });
});
