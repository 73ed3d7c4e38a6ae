import { z } from 'zod';
import { GRAPH_FIELDS } from '../graph/profile.js';
import type { GatewayErrorCode } from '../graph/outcomes.js';

/** A bus message larger than this is neither sent nor read (a flight of 50 full profiles is ~40 KiB). */
export const MAX_MESSAGE_BYTES = 256 * 1024;

const UPSTREAM_CODES = [
  'CONSENT_REQUIRED',
  'USER_BLOCKED',
  'RATE_LIMITED',
  'ACCESS_TOKEN_INVALID',
  'PERMISSION_DENIED',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_ERROR',
] as const satisfies readonly GatewayErrorCode[];

const igsid = z.string().regex(/^[0-9]{1,20}$/);
const text = z.string().max(4096);
const field = z.enum(GRAPH_FIELDS);
const account = z.string().min(1).max(100);
const from = z.string().min(1).max(64);

const profile = z.object({
  id: igsid,
  name: text.nullable().optional(),
  username: text.nullable().optional(),
  profile_pic: text.nullable().optional(),
  follower_count: z.number().finite().nullable().optional(),
  is_user_follow_business: z.boolean().nullable().optional(),
  is_business_follow_user: z.boolean().nullable().optional(),
  is_verified_user: z.boolean().nullable().optional(),
});

export const flightFailureSchema = z.object({
  code: z.enum(UPSTREAM_CODES),
  message: text,
  retryable: z.boolean(),
  transient: z.boolean(),
  retryAfterSeconds: z.number().finite().nonnegative().optional(),
  graph: z
    .object({ code: z.number().nullable(), subcode: z.number().nullable(), type: text.nullable(), fbtraceId: text.nullable() })
    .optional(),
});

const outcome = z.union([
  z.object({ ok: z.literal(true), profile, invalid: z.array(field).max(GRAPH_FIELDS.length).optional() }),
  z.object({ ok: z.literal(false), failure: flightFailureSchema }),
]);

/** An id as Meta spells it (pooled ids read back from Redis are checked with it). */
export const igsidSchema = igsid;

/** A finished trip's answer for one id, left on its lease key for DONE_MS (src/replicas/flight.ts). */
export const doneSchema = z.object({ fields: z.array(field).max(GRAPH_FIELDS.length), outcome });

/** What replicas tell each other on `<CACHE_KEY_PREFIX>:bus`; everything read is validated. */
export const busMessageSchema = z.discriminatedUnion('t', [
  /** A replica finished fetching these ids from Meta (with these fields): waiters take the answers. */
  z.object({
    t: z.literal('flight'),
    from,
    account,
    fields: z.array(field).max(GRAPH_FIELDS.length),
    outcomes: z.array(z.object({ id: igsid, outcome })).max(50),
  }),
  /** Pool `pool`'s trip is over (src/replicas/pool.ts): its joined groups take their answers; ids without one they fetch themselves. */
  z.object({
    t: z.literal('pool'),
    from,
    account,
    pool: z.string().min(1).max(64),
    /** The groups the collector found joined (empty when it could not close the pool). */
    groups: z.array(z.string().min(1).max(64)).max(50),
    fields: z.array(field).max(GRAPH_FIELDS.length),
    outcomes: z.array(z.object({ id: igsid, outcome })).max(50),
  }),
  /** What these ids answer changed: drop memory copies and whole responses holding them. */
  z.object({ t: z.literal('drop'), from, account, ids: z.array(igsid).max(1000) }),
  /** The account is paused for `ms` more (throttled, or usage over USAGE_THROTTLE_PERCENT). */
  z.object({ t: z.literal('pause'), from, account, ms: z.number().int().positive().max(86_400_000) }),
  /** The Graph host refuses the Batch API: per-object reads for `ms` (auto strategy). */
  z.object({ t: z.literal('batch-refused'), from, account, ms: z.number().int().positive().max(86_400_000) }),
]);
export type BusMessage = z.infer<typeof busMessageSchema>;
export type FlightOutcome = z.infer<typeof outcome>;
