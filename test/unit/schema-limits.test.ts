import { createRequire } from 'node:module';
import type * as GraphQL from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildGatewaySchema } from '../../src/schema/build.js';
import { limitRules, SDL_WEIGHT, SelectionCoster } from '../../src/schema/limits.js';

// The schema is built by @apollo/subgraph, which loads graphql's CommonJS build: validate with that one.
const { getIntrospectionQuery, parse, validate } = createRequire(import.meta.url)('graphql') as typeof GraphQL;
const schema = buildGatewaySchema();
const LIMITS = { queryDepth: 15, rootFields: 250, selections: 5000 };

/** `levels` fragments, each spreading the next twice: 2^levels fields once expanded, ~40 bytes a level. */
export function doublingFragments(levels: number): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on InstagramUser { ...F${i + 1} ...F${i + 1} }`);
  return `{ instagramUser(id: "1784140000000001") { ...F0 } } ${fragments.join(' ')} fragment F${levels} on InstagramUser { username }`;
}

const messages = (source: string, limits = LIMITS) => validate(schema, parse(source), limitRules(limits)).map((error) => error.message);

describe('operation limits (validation rules, no server)', () => {
  it('costs each fragment once: 30 doubling levels take a few dozen walks, not 2^30', () => {
    const document = parse(doublingFragments(30));
    const coster = new SelectionCoster(document);
    const operation = document.definitions[0]!;
    if (operation.kind !== 'OperationDefinition') throw new Error('operation first');
    const cost = coster.cost(operation.selectionSet);
    expect(cost).toEqual({ depth: 2, fields: 1, selections: 1 + 2 ** 30 });
    // One walk per selection set in the document, whatever the spreads multiply to.
    expect(coster.walked).toBeLessThanOrEqual(33);
  });

  it('refuses the 30-level document with MAX_SELECTIONS', () => {
    const errors = messages(doublingFragments(30));
    expect(errors).toEqual([
      `The operation selects ${1 + 2 ** 30} fields once fragments are expanded (aliases included, \`sdl\` weighs ${SDL_WEIGHT}); at most 5000 are allowed (MAX_SELECTIONS).`,
    ]);
  });

  it('counts aliases at every level and weighs `sdl`', () => {
    const users = (n: number, fields: string) => `{ ${Array.from({ length: n }, (_, i) => `u${i}: instagramUser(id: "1784140000000001") { ${fields} }`).join(' ')} }`;
    const all = 'id name username profilePic profilePicExpiresAt followerCount isUserFollowBusiness isBusinessFollowUser isVerifiedUser';
    expect(messages(users(250, all))).toEqual([]);
    const aliased = Array.from({ length: 30 }, (_, i) => `a${i}: username`).join(' ');
    expect(messages(users(200, aliased))[0]).toContain('selects 6200 fields');
    const sdl = (n: number) => `{ _service { ${Array.from({ length: n }, (_, i) => `s${i}: sdl`).join(' ')} } }`;
    expect(messages(sdl(40))).toEqual([]);
    expect(messages(sdl(50))[0]).toContain('(MAX_SELECTIONS)');
  });

  it('the standard introspection query passes every default limit', () => {
    expect(messages(getIntrospectionQuery())).toEqual([]);
  });

  it('depth and root fields still count through fragments; a fragment cycle neither hangs nor counts twice', () => {
    const deep = `{ __schema { ...T } } fragment T on __Schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } }`;
    expect(messages(deep)).toContain('The operation is nested 16 levels deep; at most 15 are allowed (MAX_QUERY_DEPTH).');
    const roots = `{ ...R ...R } fragment R on Query { ${Array.from({ length: 126 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(messages(roots)).toContain('The operation selects 252 root fields (aliases included); at most 250 are allowed (MAX_ROOT_FIELDS).');
    const cycle = `{ instagramUser(id: "1784140000000001") { ...A } } fragment A on InstagramUser { username ...B } fragment B on InstagramUser { name ...A }`;
    const errors = messages(cycle);
    expect(errors.some((message) => message.includes('MAX_'))).toBe(false);
  });
});
