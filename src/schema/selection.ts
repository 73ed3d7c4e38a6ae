import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { GraphField } from '../graph/profile.js';
import { DISPLAY_NAME_FIELDS, SEGMENT_FIELDS } from '../profiles/segments.js';

/** GraphQL field name -> Graph field name. */
const GRAPH_FIELD_OF: Readonly<Record<string, GraphField>> = {
  name: 'name',
  username: 'username',
  profilePic: 'profile_pic',
  profilePicExpiresAt: 'profile_pic',
  followerCount: 'follower_count',
  isUserFollowBusiness: 'is_user_follow_business',
  isBusinessFollowUser: 'is_business_follow_user',
  isVerifiedUser: 'is_verified_user',
};

/** GraphQL fields computed from several Graph fields. */
const GRAPH_FIELDS_OF: Readonly<Record<string, readonly GraphField[]>> = {
  segments: SEGMENT_FIELDS,
  displayName: DISPLAY_NAME_FIELDS,
};

/** The Graph fields one `InstagramUser` field reads (none for `id`, `avatarUrl`, `lastInteractionAt`…). */
export function graphFieldsOf(fieldName: string): readonly GraphField[] {
  if (Object.hasOwn(GRAPH_FIELD_OF, fieldName)) return [GRAPH_FIELD_OF[fieldName]!];
  return Object.hasOwn(GRAPH_FIELDS_OF, fieldName) ? GRAPH_FIELDS_OF[fieldName]! : [];
}

/**
 * The Graph fields an `InstagramUser` selection needs, following fragments and inline fragments.
 * Only these are asked upstream. `@skip`/`@include` are ignored: asking for a field too many is
 * cheaper than a second round trip.
 */
export function selectedGraphFields(info: GraphQLResolveInfo): Set<GraphField> {
  const fields = new Set<GraphField>();
  const visitedFragments = new Set<string>();
  const visit = (selectionSet: SelectionSetNode | undefined) => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        for (const field of graphFieldsOf(selection.name.value)) fields.add(field);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!selection.typeCondition || selection.typeCondition.name.value === 'InstagramUser') visit(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment: FragmentDefinitionNode | undefined = info.fragments[name];
        if (fragment && !visitedFragments.has(name) && fragment.typeCondition.name.value === 'InstagramUser') {
          visitedFragments.add(name);
          visit(fragment.selectionSet);
        }
      }
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet);
  return fields;
}
