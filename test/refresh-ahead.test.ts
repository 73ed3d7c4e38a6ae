import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID, startSimulator } from '../src/simulator/index.js';
import { metric, waitForMetric } from './support/metrics.js';
import { freePort } from './support/process.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';

const TTL_SECONDS = 4;
const DAY = 86_400_000;
const active = igsids(60, 7100);
const inactive = igsids(20, 7300);
const QUERY = 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id username } }';

describe('refresh-ahead of active contacts (end to end)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { ...WEBHOOK_ENV, PROFILE_TTL_SECONDS: String(TTL_SECONDS), CACHE_KEY_PREFIX: `refresh-ahead-${process.pid}` } });
    // 60 people message now; 20 last messaged 8 days ago (past REFRESH_AHEAD_ACTIVE_SECONDS' 7 days).
    const now = Date.now();
    const items = [...active.map((id, i) => messageItem(id, `ra-a-${i}`, now)), ...inactive.map((id, i) => messageItem(id, `ra-i-${i}`, now - 8 * DAY))];
    expect(await deliver(stack.url, items)).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 80);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Profile lookups the cache could not answer fresh (stale, partial, miss) so far. */
  async function notFresh(): Promise<number> {
    let sum = 0;
    for (const layer of ['memory', 'redis']) {
      for (const result of ['stale', 'partial', 'miss']) sum += await metric(stack.url, 'igpg_cache_lookups_total', { layer, result });
    }
    return sum;
  }

  it('keeps 60 active contacts fresh for two TTLs with batched reads, and leaves inactive ones alone', async () => {
    stack.sim.resetCalls();
    const readsBefore = await metric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' });
    const notFreshBefore = await notFresh();
    // Query the active contacts over and over for two TTLs, and until refresh-ahead has re-read each of them twice.
    const started = Date.now();
    await waitFor(
      async () => {
        const answer = await stack.gql<{ instagramUsers: Array<{ id: string }> }>(QUERY, { ids: active });
        expect(answer.errors).toBeUndefined();
        expect(answer.data?.instagramUsers).toHaveLength(60);
        const reads = await metric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' });
        return Date.now() - started >= 2 * TTL_SECONDS * 1000 && reads >= readsBefore + 2 * 60;
      },
      { timeout: 30_000, interval: 100, what: 'two TTLs and two refreshes of every active contact' },
    );
    const ttls = (Date.now() - started) / (TTL_SECONDS * 1000);
    // No lookup of an active contact waited for Meta or got a stale answer.
    expect(await notFresh()).toBe(notFreshBefore);

    const trips = stack.sim.calls.filter((call) => call.ids.length > 0);
    const ids = trips.flatMap((call) => call.ids);
    expect(ids.every((id) => active.includes(id))).toBe(true);
    expect(ids.length / trips.length).toBeGreaterThanOrEqual(25);
    const groups = await metric(stack.url, 'igpg_refresh_ahead_groups_total');
    const reads = await metric(stack.url, 'igpg_refresh_ahead_profiles_total');
    expect(reads / groups).toBeGreaterThanOrEqual(25);
    console.log(
      `refresh-ahead over ${ttls.toFixed(2)} TTLs: ${ids.length} ids in ${trips.length} trips (${(ids.length / trips.length).toFixed(1)} per trip); ` +
        `${(ids.length / 60 / ttls).toFixed(2)} reads per active contact per TTL`,
    );
  });

  it('sends nothing while the latest usage figure is at or above REFRESH_AHEAD_MAX_USAGE_PERCENT, and resumes below it', async () => {
    // An interactive lookup brings a usage figure of 60 % (the gateway's own pause starts at 90 %).
    stack.sim.configure({ appUsage: { call_count: 60, total_time: 1, total_cputime: 1 } });
    expect((await stack.gql(QUERY, { ids: igsids(1, 7500) })).errors).toBeUndefined();
    const skippedBefore = await metric(stack.url, 'igpg_refresh_ahead_skipped_total', { reason: 'usage' });
    stack.sim.resetCalls();
    // Every active contact falls due within a TTL: held back, counted, nothing sent.
    await waitForMetric(stack.url, 'igpg_refresh_ahead_skipped_total', { reason: 'usage' }, skippedBefore + 60, { timeout: 20_000 });
    // (A group already in flight when the figure arrived may land before this point; none after.)
    stack.sim.resetCalls();
    await waitForMetric(stack.url, 'igpg_refresh_ahead_skipped_total', { reason: 'usage' }, skippedBefore + 3 * 60);
    expect(stack.sim.roundTrips()).toBe(0);

    stack.sim.configure({ appUsage: { call_count: 10, total_time: 1, total_cputime: 1 } });
    const readsBefore = await metric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' });
    expect((await stack.gql(QUERY, { ids: igsids(1, 7501) })).errors).toBeUndefined();
    await waitForMetric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' }, readsBefore + 60, { timeout: 20_000 });
  });
});

describe('refresh-ahead of an account whose id was learned late', () => {
  it('starts once /me answers and the account is rebuilt under its real id', { timeout: 60_000 }, async () => {
    // Meta is unreachable at start: the account serves under a stand-in id until /me answers.
    const port = await freePort();
    const late = await startStack({
      env: { ...WEBHOOK_ENV, INSTAGRAM_GRAPH_URL: `http://127.0.0.1:${port}`, GRAPH_MAX_RETRIES: '0', PROFILE_TTL_SECONDS: '2', CACHE_KEY_PREFIX: `refresh-late-${process.pid}`, AVATAR_ALLOWED_HOSTS: '127.0.0.1' },
    });
    const sim = await startSimulator({ port, selfCdn: true });
    try {
      expect(late.gateway.accounts.only()!.id).toMatch(/^token-/);
      await waitFor(() => late.gateway.accounts.only()?.id === DEFAULT_BUSINESS_ID, { timeout: 30_000, what: 'the real account id' });
      const people = igsids(10, 7600);
      expect(await deliver(late.url, people.map((id, i) => messageItem(id, `ra-late-${i}`, Date.now())))).toBe(200);
      await waitForMetric(late.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 10, { timeout: 20_000 });
      // Fresh for 2 s: refresh-ahead of the rebuilt account re-reads all ten before that ends.
      await waitForMetric(late.url, 'igpg_refresh_ahead_profiles_total', { account: DEFAULT_BUSINESS_ID, result: 'ok' }, 10, { timeout: 20_000 });
      // The rebuilt account's avatar links are signed for its real id, and they open.
      const answer = await late.gql<{ instagramUser: { avatarUrl: string } }>('query($id: ID!) { instagramUser(id: $id) { avatarUrl } }', { id: people[0] });
      expect(answer.errors).toBeUndefined();
      const avatarUrl = answer.data!.instagramUser.avatarUrl;
      expect(avatarUrl).toContain(`/avatars/${DEFAULT_BUSINESS_ID}/`);
      const picture = await fetch(avatarUrl);
      expect(picture.status).toBe(200);
      expect(picture.headers.get('x-avatar-source')).toBe('instagram');
    } finally {
      await late.close();
      await sim.close();
    }
  });
});
