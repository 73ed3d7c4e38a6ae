import type { Resolvers } from '../__generated__/resolvers-types.js';
import { profilePicExpiry } from '../profiles/entry.js';
import { IGSID_PATTERN } from '../profiles/types.js';
import { badUserInput } from './errors.js';
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

/** Thin resolvers: check input, name the fields, hand the ids to the per-request loader. */
export const resolvers: Resolvers = {
  Query: {
    instagramUser: (_parent, { id }, { profiles, idsLeft, maxIdsPerQuery }, info) => {
      if (!IGSID_PATTERN.test(id)) throw invalidIgsid(id);
      spendIds(idsLeft, 1, maxIdsPerQuery);
      return profiles.load(id, selectedGraphFields(info));
    },
    instagramUsers: (_parent, { ids }, { profiles, maxIdsPerQuery, idsLeft }, info) => {
      if (ids.length > maxIdsPerQuery) {
        throw badUserInput(`instagramUsers accepts at most ${maxIdsPerQuery} ids per call (got ${ids.length}).`);
      }
      spendIds(idsLeft, ids.length, maxIdsPerQuery);
      const fields = selectedGraphFields(info);
      // One entry per requested id, in order and with repeats: an invalid or failing id becomes
      // null at its own index with its own error, and never costs its neighbours their answer.
      return ids.map((id) => (IGSID_PATTERN.test(id) ? profiles.load(id, fields) : Promise.reject(invalidIgsid(id))));
    },
  },
  InstagramUser: {
    // Federation `_entities`: every representation goes through the same per-request loader, so N
    // users of one supergraph query cost ⌈N/50⌉ round trips, share the cache, and fail one by one.
    // Errors are rejections, not throws: Apollo then reports them at this entity's index.
    __resolveReference: (reference, { profiles, idsLeft, maxIdsPerQuery }, info) => {
      const id: unknown = (reference as { id?: unknown }).id;
      if (typeof id !== 'string' || !IGSID_PATTERN.test(id)) return Promise.reject(invalidIgsid(String(id)));
      try {
        spendIds(idsLeft, 1, maxIdsPerQuery);
      } catch (error) {
        return Promise.reject(error);
      }
      return profiles.load(id, selectedGraphFields(info));
    },
    id: (profile) => profile.id,
    name: (profile) => profile.name ?? null,
    username: (profile) => profile.username ?? null,
    profilePic: (profile) => profile.profile_pic ?? null,
    profilePicExpiresAt: (profile) => {
      const expiry = profilePicExpiry(profile.profile_pic);
      return expiry === null ? null : new Date(expiry).toISOString();
    },
    followerCount: (profile) => profile.follower_count ?? null,
    isUserFollowBusiness: (profile) => profile.is_user_follow_business ?? null,
    isBusinessFollowUser: (profile) => profile.is_business_follow_user ?? null,
    isVerifiedUser: (profile) => profile.is_verified_user ?? null,
    lastInteractionAt: async (profile, _args, { interactions }) => {
      const at = await interactions.load(profile.id);
      return at === null ? null : new Date(at).toISOString();
    },
  },
};
