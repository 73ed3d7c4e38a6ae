import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IGSID_PATTERN } from '../graph/profile.js';

/** The messaging item kinds the webhook handles (Meta's subscription fields in brackets). */
export const EVENT_TYPES = ['message', 'postback', 'optin', 'referral'] as const;
export type EventType = (typeof EVENT_TYPES)[number] | 'other';

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
    }),
    { error: 'entry must be an array of entries with a numeric id' },
  ),
});

const item = z.looseObject({
  sender: z.object({ id: z.string().regex(IGSID_PATTERN) }),
  timestamp: z.unknown().optional(),
  message: z.looseObject({ mid: z.string().max(500).optional(), is_echo: z.boolean().optional() }).optional(),
  postback: z.looseObject({ mid: z.string().max(500).optional() }).optional(),
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
    return { accountId: entry.id, events, invalid };
  });
  return { ok: true, entries };
}

/** A webhook time in epoch ms, or undefined when it is not one we can believe. */
function plausibleTime(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return value <= nowMs + FUTURE_TOLERANCE_MS ? value : undefined;
}

function parseItem(raw: unknown, entryTime: number | undefined, nowMs: number): MessagingEvent | undefined {
  const parsed = item.safeParse(raw);
  if (!parsed.success) return undefined;
  const value = parsed.data;
  const type = EVENT_TYPES.find((kind) => value[kind] !== undefined && value[kind] !== null) ?? 'other';
  const mid = value.message?.mid ?? value.postback?.mid;
  return {
    type,
    senderId: value.sender.id,
    timestamp: plausibleTime(value.timestamp, nowMs) ?? entryTime,
    echo: value.message?.is_echo === true,
    dedupeId: mid ? `mid:${mid}` : `sha256:${createHash('sha256').update(JSON.stringify(raw)).digest('hex')}`,
  };
}
