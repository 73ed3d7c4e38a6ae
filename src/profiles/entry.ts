import type { GraphField, GraphProfile } from '../graph/profile.js';
import type { UpstreamFailure } from '../graph/outcomes.js';

/**
 * A cached profile: each field remembers its value and when it was fetched, so a wider selection
 * fetches only what is missing, and each field ages on its own. A negative entry remembers a
 * consent or block failure for a short while.
 */
export interface CacheEntry {
  fields: Partial<Record<GraphField, { value: unknown; at: number }>>;
  negative?: { failure: UpstreamFailure; at: number };
}

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
  const profile: Record<string, unknown> = { id: igsid };
  for (const field of fields) profile[field] = entry.fields[field]?.value ?? null;
  const fetchedAt = oldestFetch(entry, fields.length ? fields : (Object.keys(entry.fields) as GraphField[]));
  if (Number.isFinite(fetchedAt)) profile.fetchedAt = fetchedAt;
  return profile as unknown as GraphProfile;
}

/** A new entry holding what `profile` answered for `fields`, on top of what `previous` knew. */
export function mergeProfile(previous: CacheEntry | undefined, profile: GraphProfile, fields: readonly GraphField[], now: number): CacheEntry {
  const merged: CacheEntry = { fields: { ...(previous?.negative ? {} : previous?.fields) } };
  for (const field of fields) merged.fields[field] = { value: profile[field] ?? null, at: now };
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

/** Oldest fetch time among the fields (for "served stale, N seconds old" notices). */
export function oldestFetch(entry: CacheEntry, fields: readonly GraphField[]): number {
  return Math.min(...fields.map((field) => entry.fields[field]?.at ?? Date.now()));
}

/** How long the store should keep an entry: as long as it may still be served on error. */
export function storeTtlMs(policy: FreshnessPolicy): number {
  return policy.ttlMs + Math.max(policy.staleWhileRevalidateMs, policy.staleIfErrorMs);
}
