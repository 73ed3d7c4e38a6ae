import { z } from 'zod';
import type { GraphField, GraphProfile } from '../graph/profile.js';
import type { UpstreamFailure } from '../graph/outcomes.js';

/**
 * A cached profile: each field remembers its value and when it was fetched, so a wider selection
 * fetches only what is missing, and each field ages on its own. A negative entry remembers a
 * consent or block failure for a short while.
 */
/** What Graph answered for a field (null when it had no value). */
type FieldValue<F extends GraphField> = NonNullable<GraphProfile[F]> | null;
interface Stamped<F extends GraphField> {
  value: FieldValue<F>;
  at: number;
}
type StampedFields = { [F in GraphField]?: Stamped<F> };

export interface CacheEntry {
  fields: StampedFields;
  negative?: { failure: UpstreamFailure; at: number };
}

/** Failures worth remembering briefly: they will not change until the person acts. */
export const NEGATIVE_CODES = ['CONSENT_REQUIRED', 'USER_BLOCKED'] as const;

const MAX_STORED_STRING = 4096;
const stamped = <T extends z.ZodType>(value: T) => z.object({ value: value.nullable(), at: z.number().finite() }).optional();
const text = z.string().max(MAX_STORED_STRING);

/** What a store may hand back under a profile key; anything else is a miss (stores are a boundary too). */
export const cacheEntrySchema: z.ZodType<CacheEntry> = z.object({
  fields: z.object({
    name: stamped(text),
    username: stamped(text),
    profile_pic: stamped(text),
    follower_count: stamped(z.number().finite()),
    is_user_follow_business: stamped(z.boolean()),
    is_business_follow_user: stamped(z.boolean()),
    is_verified_user: stamped(z.boolean()),
  }),
  negative: z
    .object({
      failure: z.object({
        code: z.enum(NEGATIVE_CODES),
        message: text,
        retryable: z.boolean(),
        transient: z.boolean(),
        retryAfterSeconds: z.number().finite().optional(),
        graph: z
          .object({
            code: z.number().nullable(),
            subcode: z.number().nullable(),
            type: text.nullable(),
            fbtraceId: text.nullable(),
          })
          .optional(),
      }),
      at: z.number().finite(),
    })
    .optional(),
});

export interface FreshnessPolicy {
  ttlMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  negativeTtlMs: number;
  /** A profile picture is never served later than its CDN expiry minus this margin. */
  picMarginMs: number;
}

export type FieldState = 'fresh' | 'revalidate' | 'stale' | 'missing';

/** `oe=` on Meta's CDN URLs is the expiry as hex Unix seconds (a hint, not a documented contract). */
export function profilePicExpiry(url: unknown): number | null {
  if (typeof url !== 'string') return null;
  const match = /[?&]oe=([0-9A-Fa-f]{1,12})(?:&|$)/.exec(url);
  if (!match) return null;
  const seconds = Number.parseInt(match[1]!, 16);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
}

/**
 * fresh: within TTL. revalidate: past TTL, inside the stale-while-revalidate window (serve, then
 * refresh). stale: only good enough when Meta fails (stale-if-error). missing: never fetched, or
 * unusable (a picture URL at or past its CDN expiry is never served, not even on error).
 */
export function fieldState(entry: CacheEntry, field: GraphField, policy: FreshnessPolicy, now: number): FieldState {
  const cached = entry.fields[field];
  if (!cached) return 'missing';
  if (field === 'profile_pic') {
    const expiry = profilePicExpiry(cached.value);
    if (expiry !== null && now >= expiry - policy.picMarginMs) return 'missing';
  }
  const age = now - cached.at;
  if (age < policy.ttlMs) return 'fresh';
  if (age < policy.ttlMs + policy.staleWhileRevalidateMs) return 'revalidate';
  if (age < policy.ttlMs + policy.staleIfErrorMs) return 'stale';
  return 'missing';
}

/** The worst state among the fields a selection needs. */
export function selectionState(entry: CacheEntry, fields: readonly GraphField[], policy: FreshnessPolicy, now: number): FieldState {
  const order: FieldState[] = ['fresh', 'revalidate', 'stale', 'missing'];
  let worst = 0;
  for (const field of fields) worst = Math.max(worst, order.indexOf(fieldState(entry, field, policy, now)));
  return order[worst]!;
}

export function profileFrom(entry: CacheEntry, igsid: string, fields: readonly GraphField[]): GraphProfile {
  const profile: GraphProfile = { id: igsid };
  for (const field of fields) copyField(profile, entry, field);
  const fetchedAt = oldestFetch(entry, fields.length ? fields : (Object.keys(entry.fields) as GraphField[]), Number.POSITIVE_INFINITY);
  if (Number.isFinite(fetchedAt)) profile.fetchedAt = fetchedAt;
  return profile;
}

function copyField<F extends GraphField>(profile: GraphProfile, entry: CacheEntry, field: F): void {
  profile[field] = entry.fields[field]?.value ?? null;
}

function stampField<F extends GraphField>(entry: CacheEntry, profile: GraphProfile, field: F, now: number): void {
  const stamped: Stamped<F> = { value: profile[field] ?? null, at: now };
  // TypeScript can't pair a generic key with its mapped value in an assignment; Object.assign can.
  Object.assign(entry.fields, { [field]: stamped });
}

/** A new entry holding what `profile` answered for `fields`, on top of what `previous` knew. */
export function mergeProfile(previous: CacheEntry | undefined, profile: GraphProfile, fields: readonly GraphField[], now: number): CacheEntry {
  const merged: CacheEntry = { fields: { ...(previous?.negative ? {} : previous?.fields) } };
  for (const field of fields) stampField(merged, profile, field, now);
  return merged;
}

/**
 * Until when (ms) the selected fields all stay fresh: the earliest of their TTL ends and, for the
 * picture, its CDN expiry minus the margin. Carried on the profile so whole responses can be cached
 * no longer than the data in them.
 */
export function freshUntil(entry: CacheEntry, fields: readonly GraphField[], policy: FreshnessPolicy): number {
  let until = Number.POSITIVE_INFINITY;
  for (const field of fields.length ? fields : (Object.keys(entry.fields) as GraphField[])) {
    const cached = entry.fields[field];
    if (!cached) return 0;
    until = Math.min(until, cached.at + policy.ttlMs);
    if (field === 'profile_pic') {
      const expiry = profilePicExpiry(cached.value);
      if (expiry !== null) until = Math.min(until, expiry - policy.picMarginMs);
    }
  }
  return Number.isFinite(until) ? until : 0;
}

/**
 * The profile `entry` gives for `fields` when every one of them is fresh at `now` — what
 * `profileFrom` gives, with `freshUntil` — else undefined. One pass over the fields, for the warm path
 * (`selectionState` + `profileFrom` + `freshUntil` read each field three times).
 */
export function freshProfileOf(entry: CacheEntry, igsid: string, fields: readonly GraphField[], policy: FreshnessPolicy, now: number): GraphProfile | undefined {
  if (fields.length === 0) {
    const profile = profileFrom(entry, igsid, fields);
    profile.freshUntil = freshUntil(entry, fields, policy);
    return profile;
  }
  const profile: GraphProfile = { id: igsid };
  let until = Number.POSITIVE_INFINITY;
  let oldest = Number.POSITIVE_INFINITY;
  for (const field of fields) {
    const cached = entry.fields[field];
    if (!cached || !(now - cached.at < policy.ttlMs)) return undefined;
    until = Math.min(until, cached.at + policy.ttlMs);
    if (field === 'profile_pic') {
      const expiry = profilePicExpiry(cached.value);
      if (expiry !== null && now >= expiry - policy.picMarginMs) return undefined;
      if (expiry !== null) until = Math.min(until, expiry - policy.picMarginMs);
    }
    oldest = Math.min(oldest, cached.at);
    copyField(profile, entry, field);
  }
  profile.fetchedAt = oldest;
  profile.freshUntil = until;
  return profile;
}

/** Oldest fetch time among the fields (for "served stale, N seconds old" notices). */
export function oldestFetch(entry: CacheEntry, fields: readonly GraphField[], now: number): number {
  return Math.min(now, ...fields.map((field) => entry.fields[field]?.at ?? now));
}

/** How long the store should keep an entry: as long as it may still be served on error. */
export function storeTtlMs(policy: FreshnessPolicy): number {
  return policy.ttlMs + Math.max(policy.staleWhileRevalidateMs, policy.staleIfErrorMs);
}
