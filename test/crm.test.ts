import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient } from '@keyv/redis';
import { afterEach, describe, expect, it } from 'vitest';
import { segmentsOf } from '../src/profiles/segments.js';
import { DEFAULT_BUSINESS_ID, simulatedProfile } from '../src/simulator/index.js';
import { tempJson } from './support/files.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, type Stack } from './support/stack.js';
import { deliver, messageItem, WEBHOOK_ENV, type Item } from './support/webhook.js';
import { metric } from './support/metrics.js';
import { waitFor } from './support/wait.js';

interface Edge {
  cursor: string;
  igsid: string;
  lastInteractionAt: string;
  node: { id: string; username?: string | null; segments?: string[]; displayName?: string } | null;
}
interface Contacts {
  instagramContacts: { edges: Edge[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const CONTACTS = `query($first: Int, $after: String, $segments: [CustomerSegment!]) {
  instagramContacts(first: $first, after: $after, segments: $segments) {
    edges { cursor igsid lastInteractionAt node { id username segments displayName } }
    pageInfo { hasNextPage endCursor }
  }
}`;

let stacks: Stack[] = [];
async function stack(options: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  const started = await startStack({ ...options, env: { ...WEBHOOK_ENV, ...options.env } });
  stacks.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  stacks = [];
});

/** Messages from `ids`, the first the most recent, one second apart; waits until they are contacts. */
async function interact(s: Stack, ids: string[], options: { account?: string; headers?: Record<string, string>; base?: number } = {}) {
  const base = options.base ?? Date.now();
  const items = ids.map((id, i) => messageItem(id, `m-${randomUUID()}`, base - i * 1000));
  expect(await deliver(s.url, items, { account: options.account })).toBe(200);
  await waitForContacts(s, ids, options.headers);
}

async function waitForContacts(s: Stack, ids: string[], headers?: Record<string, string>) {
  await waitFor(async () => {
    const seen = new Set<string>();
    let after: string | null = null;
    for (let page = 0; page < 200; page++) {
      const answer: Awaited<ReturnType<typeof s.gql<Contacts>>> = await s.gql<Contacts>('query($after: String) { instagramContacts(first: 100, after: $after) { edges { igsid } pageInfo { hasNextPage endCursor } } }', { after }, headers);
      const connection = answer.data?.instagramContacts;
      if (!connection) return false;
      for (const edge of connection.edges) seen.add(edge.igsid);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    return ids.every((id) => seen.has(id));
  }, { what: `${ids.length} contacts` });
}

describe('instagramContacts', () => {
  it('lists contacts most recent first, 3 then 2 with cursors', async () => {
    const s = await stack();
    const ids = igsids(5, 100);
    // Delivered out of order: the order comes from Meta's timestamps, not from arrival.
    const base = Date.now();
    const items = ids.map((id, i) => messageItem(id, `m-order-${i}`, base - i * 1000));
    expect(await deliver(s.url, [items[3]!, items[0]!, items[4]!])).toBe(200);
    expect(await deliver(s.url, [items[1]!, items[2]!])).toBe(200);
    await waitForContacts(s, ids);

    const one = await s.gql<Contacts>(CONTACTS, { first: 3 });
    expect(one.errors).toBeUndefined();
    const page1 = one.data!.instagramContacts;
    expect(page1.edges.map((edge) => edge.igsid)).toEqual(ids.slice(0, 3));
    expect(page1.edges.map((edge) => edge.lastInteractionAt)).toEqual([0, 1, 2].map((i) => new Date(base - i * 1000).toISOString()));
    expect(page1.edges[0]!.node).toMatchObject({ id: ids[0], username: simulatedProfile(ids[0]!).username });
    expect(page1.pageInfo).toEqual({ hasNextPage: true, endCursor: page1.edges[2]!.cursor });

    const two = await s.gql<Contacts>(CONTACTS, { first: 3, after: page1.pageInfo.endCursor });
    const page2 = two.data!.instagramContacts;
    expect(page2.edges.map((edge) => edge.igsid)).toEqual(ids.slice(3));
    expect(page2.pageInfo).toEqual({ hasNextPage: false, endCursor: page2.edges[1]!.cursor });

    // A newer interaction moves a person to the top; an older (redelivered, late) one never moves them back.
    expect(await deliver(s.url, [messageItem(ids[4]!, 'm-order-new', base + 5000), messageItem(ids[0]!, 'm-order-old', base - 60_000)])).toBe(200);
    await waitFor(async () => (await s.gql<Contacts>(CONTACTS, { first: 1 })).data?.instagramContacts.edges[0]?.igsid === ids[4], { what: 'the newest contact on top' });
    const again = await s.gql<Contacts>(CONTACTS, { first: 5 });
    expect(again.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual([ids[4], ...ids.slice(0, 4)]);
  });

  it('refuses a malformed cursor and a page size out of bounds with BAD_USER_INPUT', async () => {
    const s = await stack();
    for (const variables of [{ after: 'not a cursor' }, { after: Buffer.from('12:abc').toString('base64url') }, { first: 0 }, { first: 101 }]) {
      const answer = await s.gql<Contacts>(CONTACTS, variables);
      expect(answer.errors?.[0]?.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
    }
    expect(s.sim.roundTrips()).toBe(0);
  });

  it('keeps each business account to its own contacts', async () => {
    const BIZ_A = '17841400000000101';
    const BIZ_B = '17841400000000202';
    const s = await stack({
      env: {
        INSTAGRAM_ACCESS_TOKEN: '',
        INSTAGRAM_ACCOUNTS_FILE: tempJson([
          { id: BIZ_A, accessToken: 'EAAtoken-crm-A-1', appSecret: WEBHOOK_ENV.INSTAGRAM_APP_SECRET },
          { id: BIZ_B, accessToken: 'EAAtoken-crm-B-2', appSecret: WEBHOOK_ENV.INSTAGRAM_APP_SECRET },
        ]),
      },
      sim: { tokens: { 'EAAtoken-crm-A-1': BIZ_A, 'EAAtoken-crm-B-2': BIZ_B } },
    });
    const [a1, a2, b1] = igsids(3, 200);
    const as = (account: string) => ({ 'x-instagram-account': account });
    await interact(s, [a1!, a2!], { account: BIZ_A, headers: as(BIZ_A) });
    await interact(s, [b1!], { account: BIZ_B, headers: as(BIZ_B) });
    const listA = await s.gql<Contacts>(CONTACTS, {}, as(BIZ_A));
    const listB = await s.gql<Contacts>(CONTACTS, {}, as(BIZ_B));
    expect(listA.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual([a1, a2]);
    expect(listB.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual([b1]);
    // Each account reads its own people's profiles.
    expect(listB.data!.instagramContacts.edges[0]!.node?.username).toBe(simulatedProfile(b1!, BIZ_B).username);
  });

  it('a page of 50 costs at most one round trip cold and none warm', async () => {
    // Cache off: the webhook does not prefetch, so the page really is cold.
    const cold = await stack({ env: { CACHE_ENABLED: 'false' } });
    const ids = igsids(60, 300);
    await interact(cold, ids);
    cold.sim.resetCalls();
    const page = await cold.gql<Contacts>(CONTACTS, { first: 50 });
    expect(page.errors).toBeUndefined();
    expect(page.data!.instagramContacts.edges).toHaveLength(50);
    expect(page.data!.instagramContacts.edges.every((edge) => edge.node?.id === edge.igsid)).toBe(true);
    expect(cold.sim.roundTrips()).toBe(1);
    console.info(`crm: a cold page of 50 contacts → ${cold.sim.roundTrips()} upstream round trip`);

    // Cache on: the webhook prefetched every sender, so the page costs nothing upstream.
    const warm = await stack();
    await interact(warm, ids);
    await waitFor(async () => (await metric(warm.url, 'igpg_webhook_prefetched_profiles_total')) >= 60, { what: 'the prefetch' });
    warm.sim.resetCalls();
    const again = await warm.gql<Contacts>(CONTACTS, { first: 50 });
    expect(again.data!.instagramContacts.edges).toHaveLength(50);
    expect(warm.sim.roundTrips()).toBe(0);
  });

  it('gives a contact whose profile fails a typed error at its edge, never failing the page', async () => {
    const s = await stack({ env: { CACHE_ENABLED: 'false' } });
    const ids = igsids(3, 400);
    const blocked = '99910042';
    await interact(s, [ids[0]!, blocked, ids[1]!]);
    const answer = await s.gql<Contacts>(CONTACTS, { first: 10 });
    const edges = answer.data!.instagramContacts.edges;
    expect(edges.map((edge) => edge.igsid)).toEqual([ids[0], blocked, ids[1]]);
    expect(edges[1]!.node).toBeNull();
    expect(edges[0]!.node?.id).toBe(ids[0]);
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors![0]!.path).toEqual(['instagramContacts', 'edges', 1, 'node']);
    expect(answer.errors![0]!.extensions).toMatchObject({ code: 'USER_BLOCKED', igsid: blocked });
  });
});

describe('segments and displayName', () => {
  it('computes segments for 40 people from the simulator data, asking Meta only the four fields the rules read', async () => {
    const s = await stack();
    const ids = igsids(40, 500);
    const answer = await s.gql<{ instagramUsers: Array<{ id: string; segments: string[] }> }>('query($ids: [ID!]!) { instagramUsers(ids: $ids) { id segments } }', { ids });
    expect(answer.errors).toBeUndefined();
    const seen = new Set<string>();
    for (const [i, user] of answer.data!.instagramUsers.entries()) {
      const p = simulatedProfile(ids[i]!);
      const expected: string[] = [];
      const influencer = p.follower_count > 10_000;
      if (p.is_verified_user || influencer) expected.push('VIP');
      if (influencer) expected.push('INFLUENCER');
      if (p.is_verified_user) expected.push('VERIFIED');
      if (p.is_user_follow_business) expected.push('FOLLOWER');
      if (p.is_business_follow_user) expected.push('FOLLOWED');
      if (p.is_user_follow_business && p.is_business_follow_user) expected.push('MUTUAL');
      expect(user.segments, ids[i]).toEqual(expected);
      expected.forEach((segment) => seen.add(segment));
    }
    // The 40 people cover every rule.
    expect([...seen].sort()).toEqual(['FOLLOWED', 'FOLLOWER', 'INFLUENCER', 'MUTUAL', 'VERIFIED', 'VIP']);
    expect(s.sim.calls.map((call) => call.fields.join(','))).toEqual(['follower_count,is_business_follow_user,is_user_follow_business,is_verified_user']);
  });

  it('puts a verified person with few followers in VIP and VERIFIED, and honours INFLUENCER_MIN_FOLLOWERS', async () => {
    const [verified, big, exact] = igsids(3, 600);
    const s = await stack({
      env: { INFLUENCER_MIN_FOLLOWERS: '500' },
      sim: {
        profileOverrides: {
          [verified!]: { is_verified_user: true, follower_count: 3, is_user_follow_business: false, is_business_follow_user: false },
          [big!]: { is_verified_user: false, follower_count: 501, is_user_follow_business: true, is_business_follow_user: false },
          [exact!]: { is_verified_user: false, follower_count: 500, is_user_follow_business: false, is_business_follow_user: true },
        },
      },
    });
    const answer = await s.gql<{ instagramUsers: Array<{ segments: string[] }> }>('query($ids: [ID!]!) { instagramUsers(ids: $ids) { segments } }', { ids: [verified, big, exact] });
    expect(answer.data!.instagramUsers.map((user) => user.segments)).toEqual([['VIP', 'VERIFIED'], ['VIP', 'INFLUENCER', 'FOLLOWER'], ['FOLLOWED']]);
  });

  it('never puts anyone in a segment on a fact Meta did not give', () => {
    expect(segmentsOf({ id: '1' }, 10_000)).toEqual([]);
    expect(segmentsOf({ id: '1', follower_count: null, is_verified_user: null }, 10_000)).toEqual([]);
  });

  it('filters contacts by segments (all listed must hold), scanning past non-matching people', async () => {
    const s = await stack();
    const ids = igsids(40, 500);
    await interact(s, ids);
    const holds = (id: string, wanted: string[]) => {
      const p = simulatedProfile(id);
      const segments = segmentsOf({ id, ...p }, 10_000);
      return wanted.every((segment) => segments.includes(segment as never));
    };
    for (const wanted of [['FOLLOWER'], ['INFLUENCER', 'FOLLOWER'], ['MUTUAL']]) {
      const expected = ids.filter((id) => holds(id, wanted));
      expect(expected.length, wanted.join()).toBeGreaterThan(1);
      // Page through with a small page size: every match once, in order.
      const got: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 40; page++) {
        const answer: Awaited<ReturnType<typeof s.gql<Contacts>>> = await s.gql<Contacts>(CONTACTS, { first: 2, after, segments: wanted });
        expect(answer.errors).toBeUndefined();
        const connection = answer.data!.instagramContacts;
        for (const edge of connection.edges) {
          expect(edge.node!.segments).toEqual(expect.arrayContaining(wanted));
          got.push(edge.igsid);
        }
        if (!connection.pageInfo.hasNextPage) break;
        after = connection.pageInfo.endCursor;
      }
      expect(got, wanted.join()).toEqual(expected);
    }
  });

  it('bounds a filtered scan by the request budget and says where to continue', async () => {
    // MAX_IDS_PER_QUERY = 60 caps the scan of one call at 60 contacts (CONTACTS_SCAN_LIMIT is 500).
    const s = await stack({ env: { MAX_IDS_PER_QUERY: '60' } });
    const ids = igsids(100, 1100);
    await interact(s, ids);
    const verified = ids.filter((id) => simulatedProfile(id).is_verified_user);
    // The simulator's data for these ids: two verified people among the first 60, two after.
    expect(verified.map((id) => ids.indexOf(id) < 60)).toEqual([true, true, false, false]);
    s.sim.resetCalls();
    const one = await s.gql<Contacts>(CONTACTS, { first: 50, segments: ['VERIFIED'] });
    expect(one.errors).toBeUndefined();
    const page = one.data!.instagramContacts;
    expect(page.edges.map((edge) => edge.igsid)).toEqual(verified.filter((id) => ids.indexOf(id) < 60));
    // It stopped at the 60th contact, not at the last match: the next call scans on from there.
    expect(page.pageInfo.hasNextPage).toBe(true);
    const all = await s.gql<Contacts>(CONTACTS, { first: 100 });
    expect(all.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const sixtieth = (await s.gql<Contacts>(CONTACTS, { first: 60 })).data!.instagramContacts.edges[59]!;
    expect(page.pageInfo.endCursor).toBe(sixtieth.cursor);
    const two = await s.gql<Contacts>(CONTACTS, { first: 50, after: page.pageInfo.endCursor, segments: ['VERIFIED'] });
    expect(two.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual(verified.filter((id) => ids.indexOf(id) >= 60));
    expect(two.data!.instagramContacts.pageInfo.hasNextPage).toBe(false);
  });

  it('displayName falls back from the name to the username to a neutral label, never empty', async () => {
    const [named, unnamed, anonymous] = igsids(3, 700);
    const s = await stack({
      sim: {
        profileOverrides: {
          [named!]: { name: 'Ana Silva', username: 'ana.s' },
          [unnamed!]: { name: null, username: 'just.handle' },
          [anonymous!]: { name: '  ', username: null as unknown as string },
        },
      },
    });
    const answer = await s.gql<{ instagramUsers: Array<{ displayName: string }> }>('query($ids: [ID!]!) { instagramUsers(ids: $ids) { displayName } }', { ids: [named, unnamed, anonymous] });
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.instagramUsers.map((user) => user.displayName)).toEqual(['Ana Silva', 'just.handle', 'Instagram user']);
    expect(s.sim.calls.map((call) => call.fields.join(','))).toEqual(['name,username']);
  });
});

describe('webhooks for the CRM', () => {
  const reaction = (sender: string, mid: string, timestamp: number): Item => ({
    sender: { id: sender },
    recipient: { id: DEFAULT_BUSINESS_ID },
    timestamp,
    reaction: { mid, action: 'react', reaction: 'love', emoji: '❤️' },
  });
  const seen = (sender: string, mid: string, timestamp: number): Item => ({ sender: { id: sender }, recipient: { id: DEFAULT_BUSINESS_ID }, timestamp, read: { mid } });

  it('counts reactions and seen receipts as interactions, without granting consent', async () => {
    const s = await stack();
    const [reactor, reader] = igsids(2, 800);
    const refuser = '99900801';
    const at = Date.now() - 5000;
    // The same `mid` as a message: a reaction about a message is not a redelivery of it.
    expect(await deliver(s.url, [messageItem(reactor!, 'm-shared', at - 10_000)])).toBe(200);
    await waitForContacts(s, [reactor!]);

    const before = await s.gql<{ instagramUser: null }>(`{ instagramUser(id: "${refuser}") { id } }`);
    expect(before.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
    // From now on Meta would answer (a zero delay overrides the demo prefix's refusal); only a
    // consent-granting item may drop the remembered refusal and ask again.
    s.sim.setScenario(refuser, { kind: 'slow', ms: 0 });

    expect(await deliver(s.url, [reaction(reactor!, 'm-shared', at), seen(reader!, 'm-other', at - 1000), reaction(refuser, 'm-3', at - 2000)])).toBe(200);
    await waitForContacts(s, [reactor!, reader!, refuser]);
    const answer = await s.gql<{ a: { lastInteractionAt: string }; b: { lastInteractionAt: string } }>(
      `{ a: instagramUser(id: "${reactor}") { lastInteractionAt } b: instagramUser(id: "${reader}") { lastInteractionAt } }`,
    );
    expect(answer.data).toEqual({ a: { lastInteractionAt: new Date(at).toISOString() }, b: { lastInteractionAt: new Date(at - 1000).toISOString() } });
    expect(await metric(s.url, 'igpg_webhook_events_total', { type: 'reaction', result: 'processed' })).toBe(2);
    expect(await metric(s.url, 'igpg_webhook_events_total', { type: 'read', result: 'processed' })).toBe(1);
    // Refresh-ahead: the reactor's and reader's profiles were prefetched.
    expect(s.sim.calls.some((call) => call.ids.includes(reader!))).toBe(true);

    const after = await s.gql<{ instagramUser: null }>(`{ instagramUser(id: "${refuser}") { id } }`);
    expect(after.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
  });

  it('remembers a commenter\'s username: CONSENT_REQUIRED carries knownUsername; commenters are not contacts nor prefetched', async () => {
    const s = await stack();
    const commenter = '99900901';
    const comment = (id: string | undefined, username: string): Item => ({
      field: 'comments',
      value: { id: `c-${randomUUID()}`, text: 'nice!', media: { id: '1790', media_product_type: 'FEED' }, from: { ...(id ? { id } : {}), username } },
    });
    expect(await deliver(s.url, [], { changes: [comment(commenter, 'loud.commenter'), comment(undefined, 'no.id.given'), { field: 'mentions', value: {} }] })).toBe(200);
    await waitFor(async () => (await metric(s.url, 'igpg_webhook_events_total', { type: 'comment' })) >= 2, { what: 'the comments' });
    expect(s.sim.calls).toHaveLength(0);

    const one = await s.gql(`{ instagramUser(id: "${commenter}") { id username } }`);
    expect(one.errors?.[0]?.extensions).toMatchObject({ code: 'CONSENT_REQUIRED', igsid: commenter, knownUsername: 'loud.commenter' });
    const many = await s.gql(`{ instagramUsers(ids: ["${commenter}", "99900902"]) { id } }`);
    expect(many.errors?.map((error) => error.extensions?.knownUsername)).toEqual(['loud.commenter', undefined]);
    const contacts = await s.gql<Contacts>(CONTACTS, {});
    expect(contacts.data!.instagramContacts.edges).toEqual([]);
  });
});

describe('contacts with Redis', () => {
  it('survive a restart, shared through <CACHE_KEY_PREFIX>:<account>:contacts', async () => {
    if (!(await redisForTests())) return;
    const prefix = `crm-${randomUUID().slice(0, 8)}`;
    const env = { REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: prefix };
    const first = await stack({ env });
    const ids = igsids(5, 900);
    await interact(first, ids);
    const before = await first.gql<Contacts>(CONTACTS, { first: 10 });
    // On a loaded machine a write may have outlived REDIS_TIMEOUT_MS: it is replayed once Redis answers.
    const raw = createClient({ url: SHARED_REDIS_URL });
    await raw.connect();
    try {
      await waitFor(async () => (await raw.zCard(`${prefix}:${DEFAULT_BUSINESS_ID}:contacts`)) === ids.length, { what: 'the contacts in Redis' });
    } finally {
      raw.destroy();
    }
    await first.close();
    stacks = stacks.filter((s) => s !== first);

    const second = await stack({ env });
    // The new process reads Redis once its connection is up (until then it answers from its own, empty, memory).
    let after = await second.gql<Contacts>(CONTACTS, { first: 10 });
    await waitFor(async () => {
      after = await second.gql<Contacts>(CONTACTS, { first: 10 });
      return after.data!.instagramContacts.edges.length === ids.length;
    }, { what: 'the restarted gateway to read the contacts from Redis' });
    expect(after.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual(ids);
    expect(after.data!.instagramContacts.edges.map((edge) => edge.cursor)).toEqual(before.data!.instagramContacts.edges.map((edge) => edge.cursor));
    // Paging through Redis works as in memory.
    const page2 = await second.gql<Contacts>(CONTACTS, { first: 3, after: after.data!.instagramContacts.edges[1]!.cursor });
    expect(page2.data!.instagramContacts.edges.map((edge) => edge.igsid)).toEqual(ids.slice(2));
  });
});

describe('README "CRM recipes"', () => {
  it('every query of the section runs against the simulator', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## CRM recipes'), readme.indexOf('\n## ', readme.indexOf('## CRM recipes') + 5));
    const blocks = [...section.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(6);

    const s = await stack();
    const ids = igsids(120, 1000);
    await interact(s, ids);
    const commenter = '99900001';
    const comment = { field: 'comments', value: { id: 'c-1', text: 'hi', from: { id: commenter, username: 'readme.commenter' } } };
    expect(await deliver(s.url, [], { changes: [comment] })).toBe(200);
    await waitFor(async () => (await metric(s.url, 'igpg_webhook_events_total', { type: 'comment' })) >= 1, { what: 'the comment' });

    for (const block of blocks) {
      const name = /query (\w+)/.exec(block)![1]!;
      if (name === 'Commenter') {
        const answer = await s.gql(block);
        expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'CONSENT_REQUIRED', knownUsername: 'readme.commenter' });
        continue;
      }
      // Follow every cursor to the end, as the recipes say.
      let after: string | null = null;
      let pages = 0;
      do {
        const answer: Awaited<ReturnType<typeof s.gql<Record<string, { pageInfo?: { hasNextPage: boolean; endCursor: string | null } }>>>> = await s.gql(block, { after });
        expect(answer.errors, name).toBeUndefined();
        const connection = Object.values(answer.data!)[0]!;
        after = connection.pageInfo?.hasNextPage ? connection.pageInfo.endCursor : null;
        pages += 1;
      } while (after && pages < 20);
      expect(after, name).toBeNull();
    }
  });
});
