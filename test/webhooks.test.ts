import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID } from '../src/simulator/index.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { tempJson } from './support/files.js';
import { metric, waitForMetric } from './support/metrics.js';
import { ALL_FIELDS, igsids, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

const APP_SECRET = 'whk-app-secret-7f3a9c1e5b';
const VERIFY_TOKEN = 'whk-verify-token-2d8e6a4f';
/** Message text that must never reach a log line. */
const PRIVATE_TEXT = 'my-private-message-text-4411';
const BUSINESS = DEFAULT_BUSINESS_ID;

type Item = Record<string, unknown>;

const message = (sender: string, mid: string, timestamp = Date.now(), extra: Record<string, unknown> = {}): Item => ({
  sender: { id: sender },
  recipient: { id: BUSINESS },
  timestamp,
  message: { mid, text: PRIVATE_TEXT, ...extra },
});
const delivery = (...entries: Array<{ id?: string; messaging: Item[] }>) => ({
  object: 'instagram',
  entry: entries.map((entry) => ({ id: entry.id ?? BUSINESS, time: Date.now(), messaging: entry.messaging })),
});
const sign = (body: string | Buffer, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function deliver(url: string, body: unknown, options: { signature?: string | null; contentType?: string } = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const signature = options.signature === undefined ? sign(raw) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  const response = await fetch(`${url}/webhooks/instagram`, { method: 'POST', headers, body: raw });
  return { status: response.status, body: await response.text() };
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { INSTAGRAM_APP_SECRET: APP_SECRET, INSTAGRAM_WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN },
    sim: { latencyMs: 5 },
  });
});
afterAll(async () => {
  // Nothing secret and no message text in any log line of the whole run.
  const logs = stack.logs.join('');
  expect(logs).not.toContain(APP_SECRET);
  expect(logs).not.toContain(VERIFY_TOKEN);
  expect(logs).not.toContain(PRIVATE_TEXT);
  await stack.close();
});

describe('verification handshake', () => {
  const handshake = (query: string) => fetch(`${stack.url}/webhooks/instagram?${query}`);

  it('answers the challenge as plain text when the verify token matches', async () => {
    const response = await handshake(`hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('1158201444');
  });

  it('refuses a wrong token, a token of another length and a wrong mode with 403', async () => {
    for (const query of [
      `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN.slice(0, -1)}x&hub.challenge=1`,
      'hub.mode=subscribe&hub.verify_token=short&hub.challenge=1',
      'hub.mode=subscribe&hub.challenge=1',
      `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
    ]) {
      const response = await handshake(query);
      expect(response.status, query).toBe(403);
      expect(await response.text()).not.toContain('1158201444');
    }
  });
});

describe('delivery signatures', () => {
  it('refuses a missing or forged signature and processes nothing', async () => {
    const [sender] = igsids(1, 100);
    const body = JSON.stringify(delivery({ messaging: [message(sender!, 'm-sig-1')] }));
    const processedBefore = await metric(stack.url, 'igpg_webhook_events_total', { result: 'processed' });
    stack.sim.resetCalls();

    expect((await deliver(stack.url, body, { signature: null })).status).toBe(401);
    expect((await deliver(stack.url, body, { signature: sign(body, 'another-secret') })).status).toBe(403);
    expect((await deliver(stack.url, body, { signature: 'sha256=abc' })).status).toBe(403);
    expect((await deliver(stack.url, body, { signature: sign(body).replace('sha256=', 'sha1=') })).status).toBe(403);
    // Signed, then tampered with: the signature covers the exact bytes.
    expect((await deliver(stack.url, body.replace(sender!, '1784140000000999'), { signature: sign(body) })).status).toBe(403);
    expect(await metric(stack.url, 'igpg_webhook_deliveries_total', { result: 'rejected', reason: 'unsigned' })).toBe(1);
    expect(await metric(stack.url, 'igpg_webhook_deliveries_total', { result: 'rejected', reason: 'bad_signature' })).toBe(4);

    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await metric(stack.url, 'igpg_webhook_events_total', { result: 'processed' })).toBe(processedBefore);
    expect(stack.sim.calls).toHaveLength(0);

    // The same body, correctly signed, is accepted — whatever content type it came with.
    expect(await deliver(stack.url, body, { contentType: 'text/plain' })).toEqual({ status: 200, body: '{"status":"accepted"}' });
    await waitForMetric(stack.url, 'igpg_webhook_events_total', { result: 'processed' }, processedBefore + 1);
  });
});

describe('delivery processing', () => {
  it('handles every entry and item type, prefetches each distinct sender once, and serves them with no upstream read', async () => {
    const [a, b, c, d, e, stranger] = igsids(6, 200);
    const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
    const body = delivery(
      {
        messaging: [
          message(a!, 'm-multi-1', t0),
          message(a!, 'm-multi-2', t0 + 1000),
          message(b!, 'm-multi-3', t0 + 2000),
          { sender: { id: c }, recipient: { id: BUSINESS }, timestamp: t0, postback: { mid: 'm-multi-pb', title: 'Start', payload: 'START' } },
        ],
      },
      {
        messaging: [
          { sender: { id: d }, recipient: { id: BUSINESS }, timestamp: t0, optin: { type: 'notification_messages', payload: 'x' } },
          { sender: { id: e }, recipient: { id: BUSINESS }, timestamp: t0, referral: { ref: 'ad-7', source: 'ADS', type: 'OPEN_THREAD' } },
          { recipient: { id: BUSINESS }, timestamp: t0, message: { mid: 'm-no-sender' } },
        ],
      },
      // Another business: not served by this gateway, skipped.
      { id: '17841499999999999', messaging: [message(stranger!, 'm-multi-other')] },
    );
    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' });
    stack.sim.resetCalls();

    expect((await deliver(stack.url, body)).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, prefetchedBefore + 5);

    // Five distinct senders, one batch round trip asking every field.
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch']);
    expect([...stack.sim.calls[0]!.ids].sort()).toEqual([a, b, c, d, e].sort());
    for (const type of ['message', 'postback', 'optin', 'referral']) {
      expect(await metric(stack.url, 'igpg_webhook_events_total', { type, result: 'processed' }), type).toBeGreaterThan(0);
    }
    expect(await metric(stack.url, 'igpg_webhook_events_total', { result: 'unknown_account' })).toBe(1);
    expect(await metric(stack.url, 'igpg_webhook_events_total', { result: 'invalid' })).toBe(1);

    stack.sim.resetCalls();
    const answer = await stack.gql<{ instagramUsers: Array<{ id: string; lastInteractionAt: string | null }> }>(
      `query($ids: [ID!]!) { instagramUsers(ids: $ids) { ${ALL_FIELDS} lastInteractionAt } }`,
      { ids: [a, b, c, d, e, stranger] },
    );
    expect(stack.sim.calls.filter((call) => call.ids.some((id) => id !== stranger))).toHaveLength(0);
    expect(answer.errors).toBeUndefined();
    const users = answer.data!.instagramUsers;
    expect(users.map((user) => user.id)).toEqual([a, b, c, d, e, stranger]);
    // The latest timestamp per sender, as ISO-8601; null for someone no webhook mentioned.
    expect(users.map((user) => user.lastInteractionAt)).toEqual([
      new Date(t0 + 1000).toISOString(),
      new Date(t0 + 2000).toISOString(),
      new Date(t0).toISOString(),
      new Date(t0).toISOString(),
      new Date(t0).toISOString(),
      null,
    ]);
  });

  it('ignores echoes of the business\'s own messages', async () => {
    const [person] = igsids(1, 300);
    const echoesBefore = await metric(stack.url, 'igpg_webhook_events_total', { result: 'echo' });
    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total');
    stack.sim.resetCalls();
    const echo = { sender: { id: BUSINESS }, recipient: { id: person }, timestamp: Date.now(), message: { mid: 'm-echo-1', is_echo: true, text: PRIVATE_TEXT } };
    expect((await deliver(stack.url, delivery({ messaging: [echo] }))).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_events_total', { result: 'echo' }, echoesBefore + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stack.sim.calls).toHaveLength(0);
    expect(await metric(stack.url, 'igpg_webhook_prefetched_profiles_total')).toBe(prefetchedBefore);
  });

  it('skips redeliveries and repeated items idempotently', async () => {
    const [a, b] = igsids(2, 400);
    const body = delivery({ messaging: [message(a!, 'm-dup-1'), message(a!, 'm-dup-1'), message(b!, 'm-dup-2')] });
    const duplicatesBefore = await metric(stack.url, 'igpg_webhook_events_total', { result: 'duplicate' });
    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total');
    stack.sim.resetCalls();

    expect((await deliver(stack.url, body)).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', {}, prefetchedBefore + 2);
    // The same mid twice in one body counts once.
    expect(await metric(stack.url, 'igpg_webhook_events_total', { result: 'duplicate' })).toBe(duplicatesBefore + 1);

    // Meta redelivers the whole body: every item is a duplicate, nothing is fetched again.
    const callsAfterFirst = stack.sim.calls.length;
    expect((await deliver(stack.url, body)).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_events_total', { result: 'duplicate' }, duplicatesBefore + 4);
    // A redelivery is one more accepted delivery (counted once); its items are the duplicates.
    expect(await metric(stack.url, 'igpg_webhook_deliveries_total', { result: 'duplicate' })).toBe(0);
    expect(await metric(stack.url, 'igpg_webhook_prefetched_profiles_total')).toBe(prefetchedBefore + 2);
    expect(stack.sim.calls).toHaveLength(callsAfterFirst);

    // Items without a mid are deduplicated by their digest.
    const optin = { sender: { id: b }, recipient: { id: BUSINESS }, timestamp: 1767225600000, optin: { payload: 'p' } };
    expect((await deliver(stack.url, delivery({ messaging: [optin] }))).status).toBe(200);
    expect((await deliver(stack.url, delivery({ messaging: [optin] }))).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_events_total', { type: 'optin', result: 'duplicate' }, 1);
  });

  it('records consent: a remembered CONSENT_REQUIRED is dropped when the person messages', async () => {
    const [person] = igsids(1, 500);
    const query = `query($id: ID!) { instagramUser(id: $id) { id username lastInteractionAt } }`;
    stack.sim.setScenario(person!, { kind: 'consent' });
    const refused = await stack.gql(query, { id: person });
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');

    // Meta would now answer (the person messaged), but without the webhook the gateway still
    // replays its remembered refusal for NEGATIVE_TTL_SECONDS (60 s): the control step.
    stack.sim.setScenario(person!, null);
    stack.sim.resetCalls();
    const remembered = await stack.gql(query, { id: person });
    expect(remembered.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
    expect(stack.sim.calls).toHaveLength(0);

    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' });
    const at = Date.UTC(2026, 5, 1, 12, 0, 0);
    expect((await deliver(stack.url, delivery({ messaging: [message(person!, 'm-consent-1', at)] }))).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, prefetchedBefore + 1);

    stack.sim.resetCalls();
    const answer = await stack.gql<{ instagramUser: { id: string; username: string; lastInteractionAt: string } }>(query, { id: person });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUser).toMatchObject({ id: person, lastInteractionAt: new Date(at).toISOString() });
    expect(answer.data?.instagramUser.username).toBeTruthy();
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('ignores a timestamp far in the future: lastInteractionAt does not stick there, a later real message shows', async () => {
    const [person] = igsids(1, 600);
    const query = `query($id: ID!) { instagramUser(id: $id) { id lastInteractionAt } }`;
    const lastAt = async () => (await stack.gql<{ instagramUser: { lastInteractionAt: string | null } }>(query, { id: person })).data?.instagramUser.lastInteractionAt;
    const processedBefore = await metric(stack.url, 'igpg_webhook_events_total', { result: 'processed' });

    expect((await deliver(stack.url, delivery({ messaging: [message(person!, 'm-future-1', 9e15)] }))).status).toBe(200);
    await waitForMetric(stack.url, 'igpg_webhook_events_total', { result: 'processed' }, processedBefore + 1);
    const afterFuture = await lastAt();
    expect(afterFuture === null || Date.parse(afterFuture!) <= Date.now()).toBe(true);

    // (The ignored item fell back to its entry's time, which was now: the real message comes after.)
    const real = Date.now() + 1;
    expect((await deliver(stack.url, delivery({ messaging: [message(person!, 'm-future-2', real)] }))).status).toBe(200);
    await waitFor(async () => (await lastAt()) === new Date(real).toISOString(), { what: 'the real message time to show' });
  });

  it('prefetches a burst of 500 events from 120 senders in ⌈120/50⌉ = 3 round trips', async () => {
    const senders = igsids(120, 1000);
    const items = Array.from({ length: 500 }, (_, i) => message(senders[i % senders.length]!, `m-burst-${i}`, Date.now() + i));
    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' });
    stack.sim.resetCalls();
    const started = Date.now();
    // Five entries of 100 items in one delivery, as Meta batches them.
    const answer = await deliver(stack.url, delivery(...Array.from({ length: 5 }, (_, i) => ({ messaging: items.slice(i * 100, (i + 1) * 100) }))));
    expect(answer.status).toBe(200);
    // Acknowledging never waits on the work (the next test proves it by event); this only catches a gross slowdown.
    expect(Date.now() - started).toBeLessThan(5000);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, prefetchedBefore + 120);
    expect(stack.sim.calls.map((call) => call.kind)).toEqual(['batch', 'batch', 'batch']);
    expect(new Set(stack.sim.calls.flatMap((call) => call.ids)).size).toBe(120);
  });

  it('acknowledges before the work: 200 at once while the prefetch is still waiting on a slow Meta', async () => {
    const [slow] = igsids(1, 1900);
    stack.sim.setScenario(slow!, { kind: 'slow', ms: 2000 });
    const prefetchedBefore = await metric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' });
    // Answered while Meta still holds the prefetch: nothing prefetched yet when the 200 arrives.
    expect((await deliver(stack.url, delivery({ messaging: [message(slow!, 'm-slow-1', Date.now())] }))).status).toBe(200);
    expect(await metric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' })).toBe(prefetchedBefore);
    await waitForMetric(stack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, prefetchedBefore + 1);
    stack.sim.setScenario(slow!, null);
  });

  it('answers 400 with a short reason to malformed bodies, and keeps serving', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"object":"instagram","entry":[', /not valid JSON/],
      ['', /not valid JSON/],
      ['[]', /shape/],
      ['{"object":"page","entry":[]}', /object must be "instagram"/],
      ['{"object":"instagram","entry":{}}', /entry/],
      ['{"object":"instagram","entry":[{"id":"not-a-number","messaging":[]}]}', /entry\.0\.id/],
      ['{"object":"instagram","entry":[{"id":"1","messaging":"x"}]}', /messaging/],
    ];
    for (const [body, reason] of cases) {
      const answer = await deliver(stack.url, body);
      expect(answer.status, body).toBe(400);
      expect(answer.body.length).toBeLessThan(200);
      expect(JSON.parse(answer.body).error, body).toMatch(reason);
    }
    expect(await metric(stack.url, 'igpg_webhook_deliveries_total', { reason: 'malformed' })).toBe(cases.length);
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it('leaves /graphql with its own JSON parser', async () => {
    const answer = await stack.gql('{ __typename }');
    expect(answer.data).toEqual({ __typename: 'Query' });
  });
});

describe('without webhook settings', () => {
  let bare: Stack;
  beforeAll(async () => {
    bare = await startStack({ env: { WEBHOOK_MAX_BODY_BYTES: '2048' }, sim: { latencyMs: 5 } });
  });
  afterAll(async () => bare.close());

  it('refuses the handshake when no verify token is configured', async () => {
    const response = await fetch(`${bare.url}/webhooks/instagram?hub.mode=subscribe&hub.verify_token=&hub.challenge=1`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('INSTAGRAM_WEBHOOK_VERIFY_TOKEN');
  });

  it('refuses deliveries it cannot verify (no app secret) with 503, and oversized ones with 413', async () => {
    const body = delivery({ messaging: [message(igsids(1, 600)[0]!, 'm-bare-1')] });
    const refused = await deliver(bare.url, body);
    expect(refused.status).toBe(503);
    expect(refused.body).toContain('INSTAGRAM_APP_SECRET');
    const big = await deliver(bare.url, { ...body, padding: 'x'.repeat(4096) });
    expect(big.status).toBe(413);
    expect(big.body).toContain('WEBHOOK_MAX_BODY_BYTES');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(bare.sim.calls).toHaveLength(0);
  });
});

describe('redeliveries across restarts (Redis)', () => {
  it('a restarted gateway sharing Redis still skips an item it already handled', async (context) => {
    if (!(await redisForTests())) return context.skip();
    const env = {
      INSTAGRAM_APP_SECRET: APP_SECRET,
      REDIS_URL: SHARED_REDIS_URL,
      CACHE_KEY_PREFIX: `whk-${randomUUID().slice(0, 8)}`,
    };
    const [person] = igsids(1, 700);
    const body = delivery({ messaging: [message(person!, 'm-redis-1')] });

    const first = await startStack({ env, sim: { latencyMs: 5 } });
    try {
      // Redis connects in the background: wait until it serves, so the mark lands there.
      await waitFor(() => first.gateway.store!.state().status === 'ok', { what: 'Redis to be ready' });
      expect((await deliver(first.url, body)).status).toBe(200);
      await waitForMetric(first.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' }, 1);
    } finally {
      await first.close();
    }

    const second = await startStack({ env, sim: { latencyMs: 5 } });
    try {
      await waitFor(() => second.gateway.store!.state().status === 'ok', { what: 'Redis to be ready' });
      expect((await deliver(second.url, body)).status).toBe(200);
      await waitForMetric(second.url, 'igpg_webhook_events_total', { result: 'duplicate' }, 1);
      expect(await metric(second.url, 'igpg_webhook_prefetched_profiles_total')).toBe(0);
      expect(second.sim.calls).toHaveLength(0);
    } finally {
      await second.close();
    }
  });
});

describe('accounts of different Meta apps', () => {
  it('accepts a delivery signed by any configured app, but lets it touch only that app\'s accounts', async () => {
    const [bizA, bizB] = ['17841400000000311', '17841400000000322'];
    const [secretA, secretB] = ['app-a-secret-0f1e2d3c4b', 'app-b-secret-9a8b7c6d5e'];
    const multi = await startStack({
      env: {
        INSTAGRAM_ACCESS_TOKEN: '',
        INSTAGRAM_ACCOUNTS_FILE: tempJson([
          { id: bizA, accessToken: 'token-a-5a5a5a5a', appSecret: secretA },
          { id: bizB, accessToken: 'token-b-6b6b6b6b', appSecret: secretB },
        ]),
      },
      sim: { tokens: { 'token-a-5a5a5a5a': bizA, 'token-b-6b6b6b6b': bizB }, appSecrets: { [bizA]: secretA, [bizB]: secretB } },
    });
    try {
      const [fromA, fromB] = igsids(2, 9100);
      const body = JSON.stringify(delivery({ id: bizA, messaging: [message(fromA!, 'm.a1')] }, { id: bizB, messaging: [message(fromB!, 'm.b1')] }));
      expect((await deliver(multi.url, body, { signature: sign(body, secretA) })).status).toBe(200);
      await waitFor(() => multi.sim.calls.some((call) => call.kind === 'batch'), { what: 'the prefetch' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Only account A's sender was prefetched, with account A's token.
      const prefetched = multi.sim.calls.filter((call) => call.kind === 'batch');
      expect(prefetched.flatMap((call) => call.ids)).toEqual([fromA]);
      expect(prefetched.every((call) => call.businessId === bizA)).toBe(true);
      expect(await metric(multi.url, 'igpg_webhook_events_total', { result: 'other_app' })).toBe(1);
      expect((await deliver(multi.url, body, { signature: sign(body, 'not-a-configured-secret') })).status).toBe(403);
    } finally {
      await multi.close();
    }
  });
});

describe('bounded prefetch: one delivery from 10,000 senders', () => {
  /** A compact delivery (≈900 KB for 10,000) with one message from each of `n` distinct senders. */
  const crowd = (n: number, tag: string) =>
    JSON.stringify({
      object: 'instagram',
      entry: [{ id: BUSINESS, time: Date.now(), messaging: igsids(n, 20_000).map((id, i) => ({ sender: { id }, timestamp: Date.now(), message: { mid: `${tag}-${i}` } })) }],
    });
  const env = { INSTAGRAM_APP_SECRET: APP_SECRET, PREFETCH_QUEUE_LIMIT: '1000' };
  /** Every sender is accounted for: prefetched (any result) or dropped (any reason). */
  const settled = (url: string, n: number) =>
    waitFor(
      async () => (await metric(url, 'igpg_webhook_prefetched_profiles_total')) + (await metric(url, 'igpg_prefetch_dropped_total')) >= n,
      { what: `all ${n} senders to be prefetched or dropped`, timeout: 30_000 },
    );

  it('queues at most PREFETCH_QUEUE_LIMIT ids, drops and counts the rest, and lets an interactive lookup through meanwhile', async () => {
    // 100 ms per round trip: the 20 prefetch groups, 2 at a time, take ≥ 1 s; a lookup takes one trip.
    const crowdStack = await startStack({ env, sim: { latencyMs: 100 } });
    try {
      expect((await deliver(crowdStack.url, crowd(10_000, 'c'))).status).toBe(200);
      await waitFor(async () => crowdStack.sim.roundTrips('batch') > 0, { what: 'the first prefetch' });
      // An interactive lookup is answered while prefetch groups are still waiting their turn.
      const [person] = igsids(1, 90_000);
      const answer = await crowdStack.gql<{ instagramUser: { id: string } }>(`query($id: ID!) { instagramUser(id: $id) { id username } }`, { id: person });
      expect(answer.data?.instagramUser.id).toBe(person);
      expect(crowdStack.sim.roundTrips('batch')).toBeLessThan(1 + 1000 / 50);

      await settled(crowdStack.url, 10_000);
      expect(await metric(crowdStack.url, 'igpg_prefetch_dropped_total', { reason: 'queue_full' })).toBe(9000);
      expect(await metric(crowdStack.url, 'igpg_webhook_prefetched_profiles_total', { result: 'ok' })).toBe(1000);
      const prefetches = crowdStack.sim.calls.filter((call) => call.kind === 'batch' && call.ids[0] !== person);
      expect(prefetches).toHaveLength(1000 / 50);
    } finally {
      await crowdStack.close();
    }
  }, 60_000);

  it('sends (almost) nothing once Meta reports 95 % usage, and nothing at all while the account is paused', async () => {
    const hot = await startStack({ env, sim: { latencyMs: 5 } });
    try {
      // Usage climbed since the gateway last heard from Meta: the first answers will say 95 %.
      hot.sim.configure({ businessUsage: { call_count: 95, total_time: 1, total_cputime: 1, estimated_time_to_regain_access: 0 } });
      expect((await deliver(hot.url, crowd(10_000, 'h'))).status).toBe(200);
      await settled(hot.url, 10_000);
      // Only the groups already in flight when the first 95 % answer arrived (at most 2) went out.
      expect(hot.sim.roundTrips('batch')).toBeLessThanOrEqual(2);
      expect(await metric(hot.url, 'igpg_prefetch_dropped_total', { reason: 'paused' })).toBeGreaterThanOrEqual(1000 - 2 * 50);

      // Now paused: a new delivery sends nothing at all.
      hot.sim.resetCalls();
      const before = await metric(hot.url, 'igpg_prefetch_dropped_total', { reason: 'paused' });
      const fresh = JSON.stringify(delivery({ messaging: igsids(60, 50_000).map((id, i) => message(id, `p-${i}`)) }));
      expect((await deliver(hot.url, fresh)).status).toBe(200);
      await waitForMetric(hot.url, 'igpg_prefetch_dropped_total', { reason: 'paused' }, before + 60);
      expect(hot.sim.calls).toHaveLength(0);
    } finally {
      await hot.close();
    }
  }, 60_000);
});
