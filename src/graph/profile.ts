/** The seven profile fields Meta's User Profile API serves, by their Graph names. */
export const GRAPH_FIELDS = [
  'name',
  'username',
  'profile_pic',
  'follower_count',
  'is_user_follow_business',
  'is_business_follow_user',
  'is_verified_user',
] as const;
export type GraphField = (typeof GRAPH_FIELDS)[number];

/** A profile as Graph answered it: `id` plus whichever fields were asked. */
export interface GraphProfile {
  id: string;
  name?: string | null;
  username?: string | null;
  profile_pic?: string | null;
  follower_count?: number | null;
  is_user_follow_business?: boolean | null;
  is_business_follow_user?: boolean | null;
  is_verified_user?: boolean | null;
  /** Gateway-internal, never sent to clients: until when (ms) every selected field stays fresh. */
  freshUntil?: number;
  /** Gateway-internal: fields Meta answered with a wrong type (each answered as a field error, never cached). */
  invalid?: GraphField[];
  /** Gateway-internal: when (epoch ms) the answered fields were read from Meta (the oldest of them). */
  fetchedAt?: number;
}

/** IGSIDs are opaque digit strings; anything else never leaves the gateway. */
export const IGSID_PATTERN = /^[0-9]{1,20}$/;

/** Sorted, deduplicated field list: the canonical form used in keys and URLs. */
export function canonicalFields(fields: Iterable<GraphField>): GraphField[] {
  return [...new Set(fields)].sort();
}
