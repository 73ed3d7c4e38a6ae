import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID, simulatedProfile } from '../src/simulator/index.js';
import { metric, waitForMetric } from './support/metrics.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { REPLICA_APP_SECRET, startReplicas, type Replicas } from './support/replicas.js';
import { igsids } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { messageItem, postSigned } from './support/webhook.js';

const redisOk = await redisForTests();
// Long enough that a refresh lease (half the lead time: TTL/10) outlasts a loaded process's stall.
const TTL_SECONDS = 5;
const active = igsids(60, 7800);

let running: Replicas | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** The sum of a counter over every replica. */
const total = async (r: Replicas, name: string, labels: Record<string, string> = {}) =>
  (await Promise.all(r.urls.map((url) => metric(url, name, labels)))).reduce((a, b) => a + b, 0);

describe.runIf(redisOk)('refresh-ahead with 3 replicas on one Redis (real processes)', () => {
  it('each active contact is re-read about once per TTL, not once per replica', { timeout: 90_000 }, async () => {
    const r = (running = await startReplicas(
      3,
      { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `ra-rep-${randomUUID().slice(0, 8)}`, PROFILE_TTL_SECONDS: String(TTL_SECONDS) },
      { latencyMs: 40 },
    ));
    // 60 people message the business (one signed delivery to replica 1): their profiles are prefetched.
    const body = JSON.stringify({
      object: 'instagram',
      entry: [{ id: DEFAULT_BUSINESS_ID, time: Date.now(), messaging: active.map((id, i) => messageItem(id, `rr-${i}-${randomUUID()}`, Date.now())) }],
    });
    expect(await postSigned(r.urls[0]!, body, REPLICA_APP_SECRET)).toBe(200);
    await waitForMetric(r.urls[0]!, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 60, { timeout: 20_000 });

    r.sim.resetCalls();
    const readsBefore = await total(r, 'igpg_refresh_ahead_profiles_total', { result: 'ok' });
    const started = Date.now();
    // Two TTLs, and until every active contact has been refreshed (by some replica) twice.
    await waitFor(async () => Date.now() - started >= 2 * TTL_SECONDS * 1000 && (await total(r, 'igpg_refresh_ahead_profiles_total', { result: 'ok' })) >= readsBefore + 120, {
      timeout: 60_000,
      interval: 200,
      what: 'two TTLs and two refreshes of every active contact',
    });
    const ttls = (Date.now() - started) / (TTL_SECONDS * 1000);
    const trips = r.sim.calls.filter((call) => call.kind !== 'me' && call.ids.length > 0);
    const ids = trips.flatMap((call) => call.ids);
    expect(ids.every((id) => active.includes(id))).toBe(true);
    const perContactPerTtl = ids.length / active.length / ttls;
    const skipped = await total(r, 'igpg_refresh_ahead_skipped_total', { reason: 'other_replica' });
    const refreshed = (await total(r, 'igpg_refresh_ahead_profiles_total', { result: 'ok' })) - readsBefore;
    console.log(
      `refresh-ahead on 3 replicas over ${ttls.toFixed(2)} TTLs: ${ids.length} ids in ${trips.length} trips (${(ids.length / trips.length).toFixed(1)} per trip); ` +
        `${perContactPerTtl.toFixed(2)} reads per active contact per TTL; ${refreshed} refreshes counted by the replicas, ${skipped} skipped as another replica's`,
    );
    // One process alone re-reads each contact a little more than once per TTL (every TTL minus the lead time).
    expect(perContactPerTtl).toBeLessThan(1.6);
    // And each of those refreshes was done by one replica: the others did not queue behind it for the same answer.
    expect(refreshed / ids.length).toBeLessThan(1.3);
  });

  it("a picture warmed on the replica that refreshed is what every replica serves next, from Redis, without the CDN", { timeout: 90_000 }, async () => {
    const r = (running = await startReplicas(
      3,
      { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `ra-rep-${randomUUID().slice(0, 8)}`, PROFILE_TTL_SECONDS: String(TTL_SECONDS), AVATAR_ALLOWED_HOSTS: '127.0.0.1' },
      { latencyMs: 20, selfCdn: true },
    ));
    const [person, newLook] = igsids(400, 7900).filter((id) => simulatedProfile(id).profile_pic !== null);
    const body = JSON.stringify({ object: 'instagram', entry: [{ id: DEFAULT_BUSINESS_ID, time: Date.now(), messaging: [messageItem(person!, `rp-${randomUUID()}`, Date.now())] }] });
    expect(await postSigned(r.urls[0]!, body, REPLICA_APP_SECRET)).toBe(200);
    await waitForMetric(r.urls[0]!, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 1, { timeout: 20_000 });
    const users = await r.gql<{ instagramUsers: Array<{ avatarUrl: string; profilePic: string }> }>(0, 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { avatarUrl profilePic } }', { ids: [person, newLook] });
    const avatarUrl = users.data!.instagramUsers[0]!.avatarUrl;
    const newPicture = users.data!.instagramUsers[1]!.profilePic;
    // Every replica holds the current picture in memory.
    const paths = r.urls.map((url) => `${url}${new URL(avatarUrl).pathname}`);
    for (const path of paths) expect((await fetch(path)).headers.get('x-avatar-source')).toBe('instagram');

    r.sim.configure({ profileOverrides: { [person!]: { profile_pic: newPicture } } });
    await waitFor(async () => (await total(r, 'igpg_avatar_warms_total', { result: 'fetched' })) >= 1, { timeout: 20_000, what: 'the new picture warmed' });
    const expected = Buffer.from(await (await fetch(newPicture)).arrayBuffer());
    r.sim.resetCalls();
    for (const path of paths) {
      const bytes = Buffer.from(await (await fetch(path)).arrayBuffer());
      expect(bytes.equals(expected)).toBe(true);
    }
    expect(r.sim.calls.filter((call) => call.kind === 'cdn')).toEqual([]);
  });
});
