import type { GraphField, GraphProfile } from '../graph/profile.js';

/** The CRM segments of the SDL's `CustomerSegment`, in the SDL's order. */
export const CUSTOMER_SEGMENTS = ['VIP', 'INFLUENCER', 'VERIFIED', 'FOLLOWER', 'FOLLOWED', 'MUTUAL'] as const;
export type CustomerSegment = (typeof CUSTOMER_SEGMENTS)[number];

/** The only Graph fields the segment rules read: selecting `segments` asks Meta for these and no others. */
export const SEGMENT_FIELDS: readonly GraphField[] = ['follower_count', 'is_verified_user', 'is_user_follow_business', 'is_business_follow_user'];

/** What `displayName` reads. */
export const DISPLAY_NAME_FIELDS: readonly GraphField[] = ['name', 'username'];

/** Shown when Meta gives neither a name nor a username, so `displayName` is never empty. */
export const NEUTRAL_DISPLAY_NAME = 'Instagram user';

/**
 * The segments a profile belongs to. A field Meta did not give (null) never puts anyone in a
 * segment: unknown is not "yes".
 */
export function segmentsOf(profile: GraphProfile, influencerMinFollowers: number): CustomerSegment[] {
  const influencer = typeof profile.follower_count === 'number' && profile.follower_count > influencerMinFollowers;
  const verified = profile.is_verified_user === true;
  const follower = profile.is_user_follow_business === true;
  const followed = profile.is_business_follow_user === true;
  const held: Record<CustomerSegment, boolean> = {
    VIP: verified || influencer,
    INFLUENCER: influencer,
    VERIFIED: verified,
    FOLLOWER: follower,
    FOLLOWED: followed,
    MUTUAL: follower && followed,
  };
  return CUSTOMER_SEGMENTS.filter((segment) => held[segment]);
}

/** True when the profile holds every one of `wanted` (an empty list holds always). */
export function holdsAll(profile: GraphProfile, wanted: readonly CustomerSegment[], influencerMinFollowers: number): boolean {
  if (wanted.length === 0) return true;
  const held = new Set(segmentsOf(profile, influencerMinFollowers));
  return wanted.every((segment) => held.has(segment));
}

/** The name; else the username (bare, no "@"); else a neutral label. Never empty. */
export function displayNameOf(profile: GraphProfile): string {
  const name = profile.name?.trim();
  if (name) return name;
  const username = profile.username?.trim();
  if (username) return username;
  return NEUTRAL_DISPLAY_NAME;
}
