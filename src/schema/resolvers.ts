import { cacheControlFromInfo } from '@apollo/cache-control-types';
import type { GraphQLResolveInfo } from 'graphql';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { profilePicExpiry } from '../profiles/entry.js';
import { invalidFieldFailure } from '../graph/outcomes.js';
import { IGSID_PATTERN, type GraphField, type GraphProfile } from '../graph/profile.js';
import { badUserInput, upstreamError } from './errors.js';
import { displayNameOf, segmentsOf } from '../profiles/segments.js';
import { encodeCursor, instagramContacts, withKnownUsername } from './contacts.js';
import { selectedGraphFields } from './selection.js';

function invalidIgsid(id: string) {
  const shown = id.length > 40 ? `${id.slice(0, 40)}…` : id;
  return badUserInput(`"${shown}" is not an Instagram-scoped ID (IGSID): expected 1–20 digits.`, shown);
}

/** Counts ids against the request's MAX_IDS_PER_QUERY budget, shared by every root field of the request. */
function spendIds(idsLeft: { count: number }, n: number, max: number) {
  if (n > idsLeft.count) {
    throw badUserInput(`This request asks for more than ${max} ids in total across its fields (MAX_IDS_PER_QUERY).`);
  }
  idsLeft.count -= n;
}

/**
 * Lets the whole response be cached (per account) exactly as long as every profile in it stays
 * fresh: the hint is the time left before the first of them expires, 0 when one is not known fresh.
 */
function hintFreshness(info: GraphQLResolveInfo, now: number, profiles: ReadonlyArray<GraphProfile | undefined>): void {
  let maxAge = profiles.length ? Number.POSITIVE_INFINITY : 0;
  for (const profile of profiles) {
    maxAge = Math.min(maxAge, profile?.freshUntil ? Math.floor((profile.freshUntil - now) / 1000) : 0);
  }
  cacheControlFromInfo(info).setCacheHint({ maxAge: Math.max(0, maxAge), scope: 'PRIVATE' });
}

/** A Graph field's value; one Meta answered with a wrong type is a typed field error, not a silent null. */
function valueOf<F extends GraphField>(profile: GraphProfile, field: F): NonNullable<GraphProfile[F]> | null {
  if (profile.invalid?.includes(field)) throw upstreamError(profile.id, invalidFieldFailure(field));
  return profile[field] ?? null;
}

/** Thin resolvers: check input, name the fields, hand the ids to the per-request loader. */
export const resolvers: Resolvers = {
  Query: {
    instagramUser: async (_parent, { id }, context, info) => {
      const { profiles, idsLeft, maxIdsPerQuery } = context;
      if (!IGSID_PATTERN.test(id)) throw invalidIgsid(id);
      spendIds(idsLeft, 1, maxIdsPerQuery);
      const profile = await withKnownUsername(profiles.load(id, selectedGraphFields(info)), id, context);
      hintFreshness(info, context.clock.now(), [profile]);
      return profile;
    },
    instagramUsers: async (_parent, { ids }, context, info) => {
      const { profiles, maxIdsPerQuery, idsLeft, clock } = context;
      if (ids.length > maxIdsPerQuery) {
        throw badUserInput(`instagramUsers accepts at most ${maxIdsPerQuery} ids per call (got ${ids.length}; MAX_IDS_PER_QUERY).`);
      }
      spendIds(idsLeft, ids.length, maxIdsPerQuery);
      const fields = selectedGraphFields(info);
      // One entry per requested id, in order and with repeats: an invalid or failing id becomes
      // null at its own index with its own error, and never costs its neighbours their answer.
      const settled = await Promise.allSettled(
        ids.map((id) => (IGSID_PATTERN.test(id) ? withKnownUsername(profiles.load(id, fields), id, context) : Promise.reject(invalidIgsid(id)))),
      );
      hintFreshness(info, clock.now(), settled.map((result) => (result.status === 'fulfilled' ? result.value : undefined)));
      return settled.map((result) => (result.status === 'fulfilled' ? result.value : Promise.reject(result.reason)));
    },
    instagramContacts: (_parent, args, context, info) => instagramContacts(args, context, info),
  },
  InstagramContactEdge: {
    cursor: (edge) => encodeCursor(edge.contact),
    igsid: (edge) => edge.contact.igsid,
    lastInteractionAt: (edge) => new Date(edge.contact.atMs).toISOString(),
    node: (edge) => {
      const profile = edge.profile;
      if (!profile) return null;
      if (profile.status === 'rejected') throw profile.reason;
      return profile.value;
    },
  },
  InstagramUser: {
    // Federation `_entities`: every representation goes through the same per-request loader, so N
    // users of one supergraph query cost ⌈N/50⌉ round trips, share the cache, and fail one by one.
    // Errors are rejections, not throws: Apollo then reports them at this entity's index.
    __resolveReference: (reference, context, info) => {
      const { profiles, idsLeft, maxIdsPerQuery } = context;
      const id: unknown = (reference as { id?: unknown }).id;
      if (typeof id !== 'string' || !IGSID_PATTERN.test(id)) return Promise.reject(invalidIgsid(String(id)));
      try {
        spendIds(idsLeft, 1, maxIdsPerQuery);
      } catch (error) {
        return Promise.reject(error);
      }
      return withKnownUsername(profiles.load(id, selectedGraphFields(info)), id, context);
    },
    id: (profile) => profile.id,
    name: (profile) => valueOf(profile, 'name'),
    username: (profile) => valueOf(profile, 'username'),
    profilePic: (profile) => valueOf(profile, 'profile_pic'),
    avatarUrl: (profile, _args, { avatarUrl }) => avatarUrl(profile.id),
    fetchedAt: (profile) => (profile.fetchedAt === undefined ? null : new Date(profile.fetchedAt).toISOString()),
    profilePicExpiresAt: (profile) => {
      const expiry = profilePicExpiry(valueOf(profile, 'profile_pic'));
      return expiry === null ? null : new Date(expiry).toISOString();
    },
    followerCount: (profile) => valueOf(profile, 'follower_count'),
    isUserFollowBusiness: (profile) => valueOf(profile, 'is_user_follow_business'),
    isBusinessFollowUser: (profile) => valueOf(profile, 'is_business_follow_user'),
    isVerifiedUser: (profile) => valueOf(profile, 'is_verified_user'),
    segments: (profile, _args, { account }) => segmentsOf(profile, account.influencerMinFollowers),
    displayName: (profile) => displayNameOf(profile),
    lastInteractionAt: async (profile, _args, { interactions }, info) => {
      // Changes with every webhook delivery: a response that shows it is never cached whole.
      cacheControlFromInfo(info).setCacheHint({ maxAge: 0 });
      const at = await interactions.load(profile.id);
      return at === null ? null : new Date(at).toISOString();
    },
  },
};
