import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccountRegistry } from '../../src/accounts.js';
import { Metrics } from '../../src/metrics.js';
import { systemClock } from '../../src/clock.js';
import type { AccountProfiles } from '../../src/profiles/account.js';
import { createCommenterLog } from '../../src/profiles/commenters.js';
import { createContactLog } from '../../src/profiles/contacts.js';
import { WebhookDedupe } from '../../src/webhooks/dedupe.js';
import { parseDelivery } from '../../src/webhooks/delivery.js';
import type { PrefetchQueue } from '../../src/webhooks/prefetch.js';
import { processDelivery } from '../../src/webhooks/processor.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const BUSINESS = '17841400000000001';
const [ANA, BEN, CAI, DEV] = ['1784140000000101', '1784140000000102', '1784140000000103', '1784140000000104'];

/** An account that remembers what the processor did to it. */
function fakeAccount() {
  const forgotten: string[] = [];
  const recorded = new Map<string, number>();
  const account: AccountProfiles = {
    id: BUSINESS,
    source: { load: async () => new Map() },
    forgetNegative: async (igsids) => void forgotten.push(...igsids),
    forget: async () => undefined,
    ...crmLists(),
    interactions: {
      record: async (times) => {
        for (const [igsid, at] of times) recorded.set(igsid, Math.max(recorded.get(igsid) ?? 0, at));
      },
      lastAt: async (igsids) => igsids.map((igsid) => recorded.get(igsid) ?? null),
    },
    pausedSeconds: () => 0,
  };
  return { account, forgotten, recorded };
}

async function run(items: unknown[], options: { entryId?: string; withCache?: boolean } = {}) {
  const { account, forgotten, recorded } = fakeAccount();
  const enqueued: string[][] = [];
  const queue = { enqueue: (ids: Iterable<string>) => void enqueued.push([...ids]) } as unknown as PrefetchQueue;
  const metrics = new Metrics();
  const parsed = parseDelivery(Buffer.from(JSON.stringify({ object: 'instagram', entry: [{ id: options.entryId ?? BUSINESS, messaging: items }] })), NOW);
  if (!parsed.ok) throw new Error(parsed.reason);
  await processDelivery(parsed.entries, {
    accounts: new AccountRegistry([account]),
    dedupe: new WebhookDedupe(undefined, 60_000),
    keyPrefix: 'unit',
    prefetchQueue: () => (options.withCache === false ? undefined : queue),
    metrics,
    logger: pino({ level: 'silent' }),
  });
  const results = async () => {
    const counts: Record<string, number> = {};
    for (const value of (await metrics.webhookEvents.get()).values) counts[`${value.labels.type}:${value.labels.result}`] = value.value;
    return counts;
  };
  return { forgotten, recorded, enqueued, results };
}

/** `timestamp: null` leaves the item without one. */
const from = (sender: string, kind: Record<string, unknown>, timestamp: number | null = NOW - 1000) => ({ sender: { id: sender }, recipient: { id: BUSINESS }, ...(timestamp === null ? {} : { timestamp }), ...kind });

describe('what counts as an interaction, and what grants consent', () => {
  it('message, postback, opt-in and referral: consent (remembered refusal dropped), last interaction recorded, one prefetch per distinct sender', async () => {
    const { forgotten, recorded, enqueued, results } = await run([
      from(ANA, { message: { mid: 'm1' } }, NOW - 3000),
      from(ANA, { message: { mid: 'm2' } }, NOW - 1000),
      from(BEN, { postback: { mid: 'p1', payload: 'GO' } }),
      from(CAI, { optin: { payload: 'x' } }),
      from(DEV, { referral: { ref: 'ad' } }),
    ]);
    expect(forgotten.sort()).toEqual([ANA, BEN, CAI, DEV].sort());
    expect(recorded.get(ANA)).toBe(NOW - 1000);
    expect([...recorded.keys()].sort()).toEqual([ANA, BEN, CAI, DEV].sort());
    expect(enqueued).toEqual([[ANA, BEN, CAI, DEV]]);
    expect(await results()).toEqual({ 'message:processed': 2, 'postback:processed': 1, 'optin:processed': 1, 'referral:processed': 1 });
  });

  it('seen receipts and reactions are interactions (time, prefetch) that grant no consent; other items are ignored', async () => {
    const { forgotten, recorded, enqueued, results } = await run([
      from(ANA, { read: { mid: 'm1' } }),
      from(BEN, { reaction: { mid: 'm1', action: 'react' } }),
      from(CAI, { something_else: {} }),
    ]);
    expect(forgotten).toEqual([]);
    expect([...recorded.keys()].sort()).toEqual([ANA, BEN].sort());
    expect(enqueued).toEqual([[ANA, BEN]]);
    expect(await results()).toEqual({ 'read:processed': 1, 'reaction:processed': 1, 'other:ignored': 1 });
  });

  it('echoes and items "from" the business itself are not a person interacting', async () => {
    const { forgotten, recorded, enqueued, results } = await run([from(ANA, { message: { mid: 'e1', is_echo: true } }), from(BUSINESS, { message: { mid: 'e2' } })]);
    expect([forgotten, [...recorded.keys()], enqueued]).toEqual([[], [], []]);
    expect(await results()).toEqual({ 'message:echo': 2 });
  });

  it('an interaction without a usable time still grants consent, but records no time', async () => {
    const { forgotten, recorded, enqueued } = await run([from(ANA, { message: { mid: 'm1' } }, null), from(BEN, { message: { mid: 'm2' } }, 9e15)]);
    expect(forgotten.sort()).toEqual([ANA, BEN]);
    expect(recorded.size).toBe(0);
    expect(enqueued).toEqual([[ANA, BEN]]);
  });

  it('a repeated item counts once; an unknown account is skipped; without a cache nothing is queued', async () => {
    const repeated = await run([from(ANA, { message: { mid: 'same' } }), from(ANA, { message: { mid: 'same' } })]);
    expect(await repeated.results()).toEqual({ 'message:processed': 1, 'message:duplicate': 1 });
    const stranger = await run([from(ANA, { message: { mid: 'm1' } })], { entryId: '17841499999999999' });
    expect([stranger.forgotten, stranger.enqueued]).toEqual([[], []]);
    expect(await stranger.results()).toEqual({ 'message:unknown_account': 1 });
    const uncached = await run([from(ANA, { message: { mid: 'm1' } })], { withCache: false });
    expect([uncached.forgotten, uncached.enqueued, uncached.recorded.get(ANA)]).toEqual([[ANA], [], NOW - 1000]);
  });
});

/** In-memory contacts and commenters, as an account without Redis has them. */
function crmLists() {
  const lists = { namespace: 'test:acct', retentionMs: 90 * 86_400_000, maxEntries: 1000, clock: systemClock, redis: undefined };
  return { contacts: createContactLog(lists), commenters: createCommenterLog(lists), influencerMinFollowers: 10_000 };
}
