import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedProfile } from '../src/simulator/index.js';
import { metric, waitForMetric } from './support/metrics.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';

const TTL_SECONDS = 3;
const DAY = 86_400_000;
const withPicture = (n: number, start: number) => igsids(400, start).filter((id) => simulatedProfile(id).profile_pic !== null).slice(0, n);
const [active, inactive, newLook, otherLook] = withPicture(4, 8100) as [string, string, string, string];
const QUERY = 'query ($ids: [ID!]!) { instagramUsers(ids: $ids) { id avatarUrl profilePic } }';

let stack: Stack;
const cdnPaths = () => stack.sim.calls.filter((call) => call.kind === 'cdn').map((call) => call.path);
const assetOf = (url: string) => new URL(url).pathname;

async function getAvatar(url: string) {
  const response = await fetch(url);
  return { status: response.status, source: response.headers.get('x-avatar-source'), bytes: Buffer.from(await response.arrayBuffer()) };
}

beforeAll(async () => {
  stack = await startStack({
    env: { ...WEBHOOK_ENV, AVATAR_ALLOWED_HOSTS: '127.0.0.1', PROFILE_TTL_SECONDS: String(TTL_SECONDS), CACHE_KEY_PREFIX: `avatars-warm-${process.pid}` },
    sim: { selfCdn: true },
  });
});
afterAll(async () => stack?.close());

describe('pictures warmed by refresh-ahead (end to end)', () => {
  it("an active contact's new picture is fetched ahead: its avatar then costs no CDN fetch; an inactive contact's is not fetched", { timeout: 60_000 }, async () => {
    // One active contact (messaged now), one inactive (8 days ago, past REFRESH_AHEAD_ACTIVE_SECONDS).
    expect(await deliver(stack.url, [messageItem(active, 'warm-a', Date.now()), messageItem(inactive, 'warm-i', Date.now() - 8 * DAY)])).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 2, { timeout: 20_000 });
    const first = await stack.gql<{ instagramUsers: Array<{ id: string; avatarUrl: string; profilePic: string }> }>(QUERY, { ids: [active, inactive, newLook, otherLook] });
    expect(first.errors).toBeUndefined();
    const [activeUser, inactiveUser, newUser, otherUser] = first.data!.instagramUsers;
    // Both pictures are asked for once, so they are cached.
    for (const user of [activeUser!, inactiveUser!]) expect((await getAvatar(user.avatarUrl)).source).toBe('instagram');

    // Both people change their picture on Instagram.
    stack.sim.configure({ profileOverrides: { [active]: { profile_pic: newUser!.profilePic }, [inactive]: { profile_pic: otherUser!.profilePic } } });
    stack.sim.resetCalls();
    const warmedBefore = await metric(stack.url, 'igpg_avatar_warms_total', { result: 'fetched' });
    // Refresh-ahead re-reads the active contact before its profile stops being fresh, and fetches the new picture.
    await waitForMetric(stack.url, 'igpg_avatar_warms_total', { result: 'fetched' }, warmedBefore + 1, { timeout: 20_000 });
    expect(cdnPaths()).toContain(assetOf(newUser!.profilePic));
    expect(cdnPaths()).not.toContain(assetOf(otherUser!.profilePic));

    stack.sim.resetCalls();
    const answer = await getAvatar(activeUser!.avatarUrl);
    expect(answer.status).toBe(200);
    expect(answer.source).toBe('instagram');
    expect(cdnPaths()).toEqual([]);
    const newBytes = Buffer.from(await (await fetch(newUser!.profilePic)).arrayBuffer());
    expect(answer.bytes.equals(newBytes)).toBe(true);

    // The inactive contact was not refreshed: its new picture was never fetched (nor its profile re-read).
    await waitFor(async () => (await metric(stack.url, 'igpg_refresh_ahead_profiles_total', { result: 'ok' })) >= 2, { timeout: 20_000, what: 'a second refresh of the active contact' });
    expect(cdnPaths()).not.toContain(assetOf(otherUser!.profilePic));
    expect(stack.sim.calls.filter((call) => call.ids.includes(inactive))).toEqual([]);
  });
});
