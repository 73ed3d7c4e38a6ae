import { Kind, parse, type FragmentDefinitionNode, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectedGraphFields } from '../../src/schema/selection.js';

/** The slice of `GraphQLResolveInfo` that `selectedGraphFields` reads, for the first root field of `source`. */
function infoOf(source: string): GraphQLResolveInfo {
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const root = operation.selectionSet.selections[0]!;
  if (root.kind !== Kind.FIELD) throw new Error('a field first');
  return { fieldNodes: [root], fragments } as unknown as GraphQLResolveInfo;
}

describe('selectedGraphFields (no server)', () => {
  it('maps GraphQL fields to Graph fields through fragments and inline fragments', () => {
    const info = infoOf(
      `{ instagramUser(id: "1") { id username ... on InstagramUser { followerCount } ... { profilePicExpiresAt } ...F ...Other } } fragment F on InstagramUser { name isVerifiedUser } fragment Other on Query { __typename }`,
    );
    expect([...selectedGraphFields(info)].sort()).toEqual(['follower_count', 'is_verified_user', 'name', 'profile_pic', 'username']);
  });

  it('visits each fragment once: 30 doubling levels (2^30 spreads once expanded) answer at once', () => {
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on InstagramUser { ...F${i + 1} ...F${i + 1} }`);
    const info = infoOf(`{ instagramUser(id: "1") { ...F0 } } ${fragments.join(' ')} fragment F${levels} on InstagramUser { username }`);
    // Count the fragment reads: a walk per spread would read 2^31 of them.
    let reads = 0;
    const counted = new Proxy(info.fragments, { get: (target, name) => (reads++, Reflect.get(target, name)) });
    expect([...selectedGraphFields({ ...info, fragments: counted })]).toEqual(['username']);
    expect(reads).toBeLessThanOrEqual(2 * (levels + 1));
  });

  it('a fragment cycle terminates', () => {
    const info = infoOf(`{ instagramUser(id: "1") { ...A } } fragment A on InstagramUser { username ...B } fragment B on InstagramUser { name ...A }`);
    expect([...selectedGraphFields(info)].sort()).toEqual(['name', 'username']);
  });
});
