import { describe, expect, it } from 'vitest';
import { FUTURE_TOLERANCE_MS, parseDelivery, type ParsedDelivery } from '../../src/webhooks/delivery.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const BUSINESS = '17841400000000001';
const PERSON = '1784140000000042';

const parse = (body: unknown): ParsedDelivery => parseDelivery(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), NOW);
const envelope = (messaging: unknown[], entry: Record<string, unknown> = {}) => ({ object: 'instagram', entry: [{ id: BUSINESS, time: NOW - 5000, messaging, ...entry }] });
const messageFrom = (sender: unknown, extra: Record<string, unknown> = {}) => ({ sender: { id: sender }, recipient: { id: BUSINESS }, timestamp: NOW - 1000, message: { mid: 'm-1', text: 'hi' }, ...extra });
/** The single entry of a delivery that must parse. */
const entryOf = (body: unknown) => {
  const parsed = parse(body);
  if (!parsed.ok) throw new Error(`refused: ${parsed.reason}`);
  expect(parsed.entries).toHaveLength(1);
  return parsed.entries[0]!;
};

describe('webhook delivery envelope', () => {
  it.each([
    ['not JSON', '{"object":', /not valid JSON/],
    ['an empty body', '', /not valid JSON/],
    ['an array', '[]', /shape/],
    ['another object kind', { object: 'page', entry: [] }, /object must be "instagram"/],
    ['entry not an array', { object: 'instagram', entry: {} }, /entry/],
    ['entry missing', { object: 'instagram' }, /entry/],
    ['a non-numeric account id', { object: 'instagram', entry: [{ id: 'abc', messaging: [] }] }, /entry\.0\.id/],
    ['an account id of the wrong type', { object: 'instagram', entry: [{ id: true, messaging: [] }] }, /entry\.0\.id/],
    ['messaging not an array', { object: 'instagram', entry: [{ id: '1', messaging: 'x' }] }, /messaging/],
  ])('refuses %s with a short reason', (_what, body, reason) => {
    const parsed = parse(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toMatch(reason);
      expect(parsed.reason.length).toBeLessThan(200);
    }
  });

  it('accepts a numeric account id and an entry without messaging', () => {
    const parsed = parse({ object: 'instagram', entry: [{ id: 17841400, time: NOW }, { id: BUSINESS, changes: [] }] });
    expect(parsed).toEqual({ ok: true, entries: [{ accountId: '17841400', comments: [], events: [], invalid: 0 }, { accountId: BUSINESS, comments: [], events: [], invalid: 0 }] });
  });
});

describe('webhook messaging items', () => {
  it('reads a message down to type, sender, time, echo flag and mid — never the text', () => {
    const entry = entryOf(envelope([messageFrom(PERSON)]));
    expect(entry).toEqual({ accountId: BUSINESS, comments: [], invalid: 0, events: [{ type: 'message', senderId: PERSON, timestamp: NOW - 1000, echo: false, dedupeId: 'mid:m-1' }] });
    expect(JSON.stringify(entry)).not.toContain('hi');
  });

  it('tells the interaction kinds apart (reactions and seen receipts included)', () => {
    const items = [
      messageFrom(PERSON),
      { sender: { id: PERSON }, timestamp: NOW, postback: { mid: 'pb-1', payload: 'START' } },
      { sender: { id: PERSON }, timestamp: NOW, optin: { payload: 'x' } },
      { sender: { id: PERSON }, timestamp: NOW, referral: { ref: 'ad' } },
      { sender: { id: PERSON }, timestamp: NOW, read: { mid: 'm-1' } },
      { sender: { id: PERSON }, timestamp: NOW, reaction: { mid: 'm-1', action: 'react' } },
    ];
    expect(entryOf(envelope(items)).events.map((event) => event.type)).toEqual(['message', 'postback', 'optin', 'referral', 'read', 'reaction']);
  });

  it('marks echoes (the business\'s own messages)', () => {
    const [event] = entryOf(envelope([messageFrom(BUSINESS, { message: { mid: 'e-1', is_echo: true } })])).events;
    expect(event).toMatchObject({ type: 'message', echo: true, senderId: BUSINESS });
  });

  it('skips and counts items without a usable sender, keeping the rest', () => {
    const items = [
      messageFrom('not-an-igsid'),
      messageFrom(''),
      messageFrom(1784140000000042),
      messageFrom('1'.repeat(40)),
      { recipient: { id: BUSINESS }, timestamp: NOW, message: { mid: 'no-sender' } },
      { sender: null, message: { mid: 'x' } },
      'a string',
      null,
      42,
      messageFrom(PERSON, { message: { mid: 'x'.repeat(501) } }),
      messageFrom(PERSON, { message: { mid: 'm-ok', is_echo: 'yes' } }),
      messageFrom(PERSON),
    ];
    const entry = entryOf(envelope(items));
    expect(entry.invalid).toBe(items.length - 1);
    expect(entry.events.map((event) => event.dedupeId)).toEqual(['mid:m-1']);
  });

  it('handles a huge messaging array item by item (10,000 items)', () => {
    const items = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? messageFrom(PERSON, { message: { mid: `m-${i}` } }) : { bogus: i }));
    const entry = entryOf(envelope(items));
    expect(entry.events).toHaveLength(5000);
    expect(entry.invalid).toBe(5000);
  });

  it('gives items without a mid a stable digest, different for different items', () => {
    const optin = { sender: { id: PERSON }, timestamp: NOW, optin: { payload: 'a' } };
    const [a] = entryOf(envelope([optin])).events;
    const [again] = entryOf(envelope([optin])).events;
    const [other] = entryOf(envelope([{ ...optin, optin: { payload: 'b' } }])).events;
    expect(a!.dedupeId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(again!.dedupeId).toBe(a!.dedupeId);
    expect(other!.dedupeId).not.toBe(a!.dedupeId);
  });
});

describe('webhook timestamps', () => {
  const timeOf = (timestamp: unknown, entryTime: unknown = NOW - 5000) =>
    entryOf(envelope([messageFrom(PERSON, { timestamp })], { time: entryTime })).events[0]!.timestamp;

  it('keeps a plausible time, including a little clock skew ahead of ours', () => {
    expect(timeOf(NOW - 1000)).toBe(NOW - 1000);
    expect(timeOf(NOW + FUTURE_TOLERANCE_MS)).toBe(NOW + FUTURE_TOLERANCE_MS);
  });

  it('ignores a time far in the future, negative or not a number, falling back to the entry time', () => {
    for (const bad of [9e15, NOW + FUTURE_TOLERANCE_MS + 1, -1, '1764590400000', null, { at: 1 }]) {
      expect(timeOf(bad), JSON.stringify(bad)).toBe(NOW - 5000);
    }
    // JSON has no Infinity, but 1e400 parses as one.
    const parsed = parseDelivery(Buffer.from(`{"object":"instagram","entry":[{"id":"${BUSINESS}","time":1e400,"messaging":[{"sender":{"id":"${PERSON}"},"timestamp":1e400,"message":{"mid":"i"}}]}]}`), NOW);
    expect(parsed.ok && parsed.entries[0]!.events[0]!.timestamp).toBeUndefined();
  });

  it('has no time when neither the item nor its entry has a plausible one', () => {
    expect(timeOf(9e15, 9e15)).toBeUndefined();
    expect(timeOf(undefined, null)).toBeUndefined();
  });
});
