// Deterministic fake Instagram users: the same IGSID under the same business always yields the
// same profile (except the profile_pic expiry, which follows the clock like the real CDN's).
import { createHash } from 'node:crypto';
import { CDN_PREFIX, cdnSignature } from './cdn.js';
import { DEFAULT_BUSINESS_ID, type SimProfile } from './types.js';

const FIRST = ['Ana', 'Bruno', 'Chloé', 'Dmitri', 'Emeka', 'Fatima', 'Giulia', 'Hiro', 'Ingrid', 'João', 'Kavya', 'Liam', 'Mei', 'Noah', 'Olu', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tomás', 'Uma', 'Valentina', 'Wei', 'Yara', 'Zoë'];
const LAST = ['Almeida', 'Bianchi', 'Chen', 'Dubois', 'Eriksen', 'Fernández', 'García', 'Haddad', 'Ivanova', 'Jensen', 'Kowalski', 'López', 'Müller', 'Nakamura', 'Okafor', 'Petrov', 'Rossi', 'Silva', 'Tanaka', 'Wójcik'];

export const DEFAULT_PIC_TTL_SECONDS = 4 * 24 * 3600;

/** Every field a profile read may ask for, in Meta's documentation order. */
export const PROFILE_FIELDS = ['id', 'name', 'username', 'profile_pic', 'follower_count', 'is_user_follow_business', 'is_business_follow_user', 'is_verified_user'] as const;

function seed(igsid: string, businessId: string): Buffer {
  // IGSIDs are scoped to a business: the same digits under another business are another person,
  // so other businesses hash with their id. The default business hashes the bare IGSID so demo
  // values stay stable whatever DEFAULT_BUSINESS_ID is.
  const input = businessId === DEFAULT_BUSINESS_ID ? igsid : `${businessId}:${igsid}`;
  return createHash('sha256').update(input).digest();
}

/**
 * The signed URL's `oe=` is its expiry (hex Unix seconds). It is quantised so two reads close in
 * time give the same URL, as the real CDN does, and so a test comparing with `simulatedProfile()`
 * computed a moment later still matches: expiry lies in (now + 3/4 ttl, now + ttl].
 */
export function picExpiry(nowMs: number, ttlSeconds: number): number {
  const quantum = Math.min(3600, Math.max(1, Math.floor(ttlSeconds / 4)));
  return Math.floor(nowMs / 1000 / quantum) * quantum + ttlSeconds;
}

export function simulatedProfile(
  igsid: string,
  businessId: string = DEFAULT_BUSINESS_ID,
  nowMs: number = Date.now(),
  picTtlSeconds: number = DEFAULT_PIC_TTL_SECONDS,
  /** The simulator's own URL when its fake CDN serves the pictures (`selfCdn`); else Meta-looking URLs. */
  cdnBase?: string,
): SimProfile {
  const h = seed(igsid, businessId);
  const b = (i: number) => h[i % h.length]!;
  const digits = igsid.replace(/\D/g, '').padStart(6, '0').slice(-6);
  const username = businessId === DEFAULT_BUSINESS_ID ? `sim.user.${digits}` : `sim.${businessId.slice(-4)}.${digits}`;
  // About 1 in 5 people hide their name; about 1 in 7 have no picture.
  const name = b(0) % 5 === 0 ? null : `${FIRST[b(1) % FIRST.length]} ${LAST[b(2) % LAST.length]}`;
  let profilePic: string | null = null;
  if (b(3) % 7 !== 0) {
    const oe = picExpiry(nowMs, picTtlSeconds).toString(16).toUpperCase().padStart(8, '0');
    const asset = h.readBigUInt64BE(8).toString().slice(0, 17);
    const oh = cdnSignature(asset, oe);
    profilePic = cdnBase
      ? `${cdnBase}${CDN_PREFIX}${asset}_n.png?stp=dst-png&oh=00_${oh}&oe=${oe}`
      : `https://scontent.cdninstagram.com/v/t51.2885-19/${asset}_n.jpg?stp=dst-jpg&_nc_ht=scontent.cdninstagram.com&oh=00_${oh}&oe=${oe}`;
  }
  // Follower counts spread over orders of magnitude, like real accounts: 0 .. ~300k.
  const u = h.readUInt32BE(16) / 2 ** 32;
  const followerCount = Math.floor(10 ** (u * 5.5)) - 1;
  return {
    name,
    username,
    profile_pic: profilePic,
    follower_count: followerCount,
    is_user_follow_business: (b(20) & 1) === 1,
    is_business_follow_user: (b(20) & 2) === 2,
    is_verified_user: b(21) % 25 === 0,
  };
}

/** The app-scoped `id` that `/me` answers next to `user_id`: digits, stable per business. */
export function appScopedId(businessId: string): string {
  const h = createHash('sha256').update(`app-scoped:${businessId}`).digest();
  return `2${h.readBigUInt64BE(0).toString().padStart(20, '0').slice(-16)}`;
}
