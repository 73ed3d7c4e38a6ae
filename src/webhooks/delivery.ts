import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IGSID_PATTERN } from '../graph/profile.js';

/**
 * The messaging item kinds the webhook handles: `message` (messages), `postback`
 * (messaging_postbacks), `optin` (messaging_optins), `referral` (messaging_referral), `reaction`
 * (message_reactions), `read` (messaging_seen). All count as interactions.
 */
export const EVENT_TYPES = ['message', 'postback', 'optin', 'referral', 'reaction', 'read'] as const;
export type EventType = (typeof EVENT_TYPES)[number] | 'other';

/** Only these grant consent, as Meta says: a message, an icebreaker or menu postback, an opt-in, a referral. */
export const CONSENT_TYPES: ReadonlySet<EventType> = new Set(['message', 'postback', 'optin', 'referral']);

/** A comment on the business's media (`changes[]` with `field: "comments"`): who wrote it, never the text. */
export interface CommentEvent {
  /** Some Instagram-Login comment webhooks omit `from.id`: nothing can be remembered then. */
  commenterId: string | undefined;
  username: string;
  /** Epoch milliseconds (the entry's `time`), when Meta gave one. */
  timestamp: number | undefined;
}

/** One `entry[].messaging[]` item, reduced to what the gateway uses (never the message text). */
export interface MessagingEvent {
  type: EventType;
  senderId: string;
  /**
   * Epoch milliseconds from the item (or its entry), when Meta gave a plausible one: a negative,
   * non-finite or non-numeric value, or one more than `FUTURE_TOLERANCE_MS` ahead of now, is
   * dropped (the item still counts; only its time is unknown).
   */
  timestamp: number | undefined;
  /** `message.is_echo`: the business itself sent it, so the sender is not a person. */
  echo: boolean;
  /** What redeliveries share: the message/postback `mid`, else a digest of the item. */
  dedupeId: string;
}

export interface DeliveryEntry {
  /** The business's Instagram professional account id. */
  accountId: string;
  events: MessagingEvent[];
  comments: CommentEvent[];
  /** Items that are not recognisable messaging events (no sender IGSID…): skipped, counted. */
  invalid: number;
}

export type ParsedDelivery = { ok: true; entries: DeliveryEntry[] } | { ok: false; reason: string };

/** How far ahead of our clock a webhook timestamp may be (clock skew) before it is ignored. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

const graphId = z.union([z.string().regex(/^\d{1,30}$/), z.number().int().nonnegative()]).transform(String);

const envelope = z.object({
  object: z.literal('instagram', { error: 'object must be "instagram"' }),
  entry: z.array(
    z.looseObject({
      id: graphId,
      // Any value: an implausible time is dropped (plausibleTime), never fatal to the item.
      time: z.unknown().optional(),
      messaging: z.array(z.unknown()).optional(),
      changes: z.array(z.unknown()).optional(),
    }),
    { error: 'entry must be an array of entries with a numeric id' },
  ),
});

const item = z.looseObject({
  sender: z.object({ id: z.string().regex(IGSID_PATTERN) }),
  timestamp: z.unknown().optional(),
  message: z.looseObject({ mid: z.string().max(500).optional(), is_echo: z.boolean().optional() }).optional(),
  postback: z.looseObject({ mid: z.string().max(500).optional() }).optional(),
  reaction: z.looseObject({ mid: z.string().max(500).optional() }).optional(),
  read: z.looseObject({ mid: z.string().max(500).optional() }).optional(),
});

const change = z.looseObject({ field: z.string() });
const comment = z.looseObject({
  value: z.looseObject({
    from: z.looseObject({
      id: z.string().regex(IGSID_PATTERN).optional(),
      // Instagram handles: letters, digits, dots, underscores, at most 30.
      username: z.string().regex(/^[A-Za-z0-9._]{1,30}$/),
    }),
  }),
});

/**
 * Parses a (signature-checked) delivery. The envelope must be right or the whole delivery is
 * refused with a short reason; a single unrecognisable item is skipped and counted instead, so one
 * odd item never makes Meta redeliver (and eventually disable) everything around it.
 */
export function parseDelivery(rawBody: Buffer, nowMs: number): ParsedDelivery {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` (at ${issue.path.join('.')})` : '';
    return { ok: false, reason: `unexpected delivery shape: ${issue?.message ?? 'invalid'}${where}` };
  }
  const entries = parsed.data.entry.map((entry): DeliveryEntry => {
    const events: MessagingEvent[] = [];
    let invalid = 0;
    for (const raw of entry.messaging ?? []) {
      const event = parseItem(raw, plausibleTime(entry.time, nowMs), nowMs);
      if (event) events.push(event);
      else invalid += 1;
    }
    const comments: CommentEvent[] = [];
    for (const raw of entry.changes ?? []) {
      // Other change fields (mentions, story insights…) are not ours to handle: skipped silently.
      if (change.safeParse(raw).data?.field !== 'comments') continue;
      const parsed = comment.safeParse(raw);
      if (!parsed.success) {
        invalid += 1;
        continue;
      }
      const { from } = parsed.data.value;
      comments.push({ commenterId: from.id, username: from.username, timestamp: plausibleTime(toMs(entry.time), nowMs) });
    }
    return { accountId: entry.id, events, comments, invalid };
  });
  return { ok: true, entries };
}

/** A webhook time in epoch ms, or undefined when it is not one we can believe. */
function plausibleTime(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return value <= nowMs + FUTURE_TOLERANCE_MS ? value : undefined;
}

/** Change notifications give `time` in seconds, messaging items in milliseconds: read both. */
function toMs(time: unknown): unknown {
  return typeof time === 'number' && time < 100_000_000_000 ? time * 1000 : time;
}

function parseItem(raw: unknown, entryTime: number | undefined, nowMs: number): MessagingEvent | undefined {
  const parsed = item.safeParse(raw);
  if (!parsed.success) return undefined;
  const value = parsed.data;
  const type = EVENT_TYPES.find((kind) => value[kind] !== undefined && value[kind] !== null) ?? 'other';
  // A reaction's or a seen receipt's `mid` names the message it is about, not the event: those
  // items are deduplicated by digest, or they would pass for a redelivery of that message.
  const mid = value.message?.mid ?? value.postback?.mid;
  return {
    type,
    senderId: value.sender.id,
    timestamp: plausibleTime(value.timestamp, nowMs) ?? entryTime,
    echo: value.message?.is_echo === true,
    dedupeId: mid ? `mid:${mid}` : `sha256:${createHash('sha256').update(JSON.stringify(raw)).digest('hex')}`,
  };
}
