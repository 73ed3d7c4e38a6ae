import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  specifiedRules,
  validate,
  type FieldNode,
  type GraphQLField,
  type GraphQLLeafType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type TypeNode,
  type ValidationRule,
} from 'graphql';
import { canonicalFields, IGSID_PATTERN, type GraphField, type GraphProfile } from '../graph/profile.js';
import type { GatewayContext } from './context.js';
import { graphFieldsOf } from './selection.js';

/**
 * The `InstagramUser` fields a compiled query may select: their resolvers read only the profile and
 * the context's `account` / `avatarUrl` (never `info`) and never wait. `lastInteractionAt` is not one:
 * it reads the interaction log and makes an answer uncacheable.
 */
const PLAIN_FIELDS = new Set([
  '__typename',
  'id',
  'name',
  'username',
  'profilePic',
  'profilePicExpiresAt',
  'avatarUrl',
  'fetchedAt',
  'followerCount',
  'isUserFollowBusiness',
  'isBusinessFollowUser',
  'isVerifiedUser',
  'segments',
  'displayName',
]);

/** The root fields a compiled query may hold: each reads profiles by id and nothing else. */
const ROOT_FIELDS = new Map([
  ['instagramUser', 'id'],
  ['instagramUsers', 'ids'],
] as const);

type Resolve = (profile: GraphProfile, args: Record<string, never>, context: GatewayContext, info: never) => unknown;

/** One selected field of a user: its response key, how to read it and how graphql would serialise it. */
interface LeafStep {
  key: string;
  /** The field's name (the key may be an alias). */
  name: string;
  resolve: Resolve;
  type: GraphQLLeafType;
  nonNull: boolean;
  list: boolean;
}

interface RootStep {
  key: string;
  node: FieldNode;
  field: GraphQLField<unknown, unknown>;
  argument: 'id' | 'ids';
  leaves: LeafStep[];
}

/**
 * Per profile object (`peekFresh` gives the same object while its entry and fields stay the same),
 * the JSON last built from it and for which selection: a person on many pages is built once. One per
 * profile, gone with it.
 */
const built = new WeakMap<GraphProfile, { selection: string; json: string }>();

/** The ids one request reads: per root field (in order, with repeats), and distinct. */
export interface Reads {
  idsOf: string[][];
  distinct: string[];
}

/** What one run needs from the request: its account, how many ids it may read, its clock. */
export type RunContext = Pick<GatewayContext, 'account' | 'avatarUrl' | 'clock'>;

/** A compiled query's answer: the exact bytes Apollo would send, how long it stays fresh, whom it shows. */
export interface CompiledAnswer {
  payload: string;
  maxAgeSeconds: number;
  igsids: string[];
}

/**
 * A query compiled once for the warm path: `instagramUser(s)` root fields selecting plain profile
 * fields, with no fragments and no directives. `answer` builds what Apollo would answer from the
 * profiles the cache gives — the same resolvers, serialisers and JSON, without its pipeline — or
 * returns undefined whenever anything would make Apollo's answer differ from a plain fresh success
 * (as `reads` does for bad input): Apollo then answers.
 */
export class CompiledQuery {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly operation: OperationDefinitionNode,
    private readonly roots: RootStep[],
    /** The union of the Graph fields every root field needs, canonical (what the loader would ask for). */
    private readonly graphFields: GraphField[],
    /** What decides a user's JSON besides the profile: the fields read and the leaves selected. */
    private readonly selections: string[],
    /** Every variable is an `ID` or a list of `ID!`: given as strings, they need no coercion. */
    private readonly idVariables: ReadonlyArray<{ name: string; list: boolean }> | undefined,
  ) {}

  /** The operation's own name, if it has one. */
  get operationName(): string | undefined {
    return this.operation.name?.value;
  }

  /** The operation's name, else its first field's (what traces call it). */
  get name(): string {
    return this.operation.name?.value ?? this.roots[0]?.node.name.value ?? 'anonymous';
  }

  /** The Graph fields this query reads, canonical (what the per-request loader would ask for). */
  get fields(): readonly GraphField[] {
    return this.graphFields;
  }

  /**
   * The ids this query reads with these variables, per root field and distinct; undefined when Apollo
   * must answer (variables graphql would refuse, an invalid id, an empty list, MAX_IDS_PER_QUERY).
   */
  reads(variables: unknown, maxIdsPerQuery: number): Reads | undefined {
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    const inputs = (variables ?? {}) as Record<string, unknown>;
    const coerced = (this.idVariables && plainIds(this.idVariables, inputs)) || getVariableValues(this.schema, this.operation.variableDefinitions ?? [], inputs, { maxErrors: 1 });
    if (coerced.errors) return undefined;
    const idsOf: string[][] = [];
    let total = 0;
    for (const root of this.roots) {
      const value = getArgumentValues(root.field, root.node, coerced.coerced)[root.argument] as string | string[];
      const ids = typeof value === 'string' ? [value] : value;
      // An empty list has no freshness to give: Apollo answers it no-store.
      if (ids.length === 0) return undefined;
      total += ids.length;
      if (total > maxIdsPerQuery || !ids.every((id) => IGSID_PATTERN.test(id))) return undefined;
      idsOf.push(ids);
    }
    return { idsOf, distinct: [...new Set(idsOf.flat())] };
  }

  /**
   * Apollo's answer to `reads`, given each distinct id's profile (in `reads.distinct` order, as the
   * cache gives them for `fields`); undefined when it would not be a plain fresh success.
   */
  answer(reads: Reads, profiles: readonly GraphProfile[], context: RunContext): CompiledAnswer | undefined {
    const byId = new Map(reads.distinct.map((igsid, i) => [igsid, profiles[i]!]));
    const now = context.clock.now();
    let freshUntil = Number.POSITIVE_INFINITY;
    // JSON.stringify({ data }) composed from each user's JSON (the same bytes: JSON is compositional).
    const parts: string[] = [];
    for (const [i, root] of this.roots.entries()) {
      const users: string[] = [];
      for (const igsid of reads.idsOf[i]!) {
        const profile = byId.get(igsid)!;
        freshUntil = Math.min(freshUntil, profile.freshUntil ?? 0);
        const json = this.userJson(profile, i, context as GatewayContext);
        if (json === undefined) return undefined;
        users.push(json);
      }
      parts.push(`${JSON.stringify(root.key)}:${root.argument === 'id' ? users[0] : `[${users.join(',')}]`}`);
    }
    const maxAgeSeconds = Math.floor((freshUntil - now) / 1000);
    // Not fresh for a whole second: Apollo's answer would be no-store; let it give that answer.
    if (!(maxAgeSeconds > 0)) return undefined;
    return { payload: `{"data":{${parts.join(',')}}}\n`, maxAgeSeconds, igsids: reads.distinct };
  }

  private userJson(profile: GraphProfile, root: number, context: GatewayContext): string | undefined {
    const selection = this.selections[root]!;
    const known = built.get(profile);
    if (known?.selection === selection) return known.json;
    const user = userOf(profile, this.roots[root]!.leaves, context);
    if (!user) return undefined;
    const json = JSON.stringify(user);
    built.set(profile, { selection, json });
    return json;
  }
}

/**
 * The variables as graphql would coerce them, when each is given exactly as its type wants it (a
 * string for an `ID`, an array of strings for a list of `ID!`): graphql's coercion then changes
 * nothing. Undefined otherwise (a default, a number, a single value for a list…): graphql coerces.
 */
function plainIds(variables: ReadonlyArray<{ name: string; list: boolean }>, inputs: Record<string, unknown>): { coerced: Record<string, unknown>; errors?: never } | undefined {
  const coerced: Record<string, unknown> = {};
  for (const { name, list } of variables) {
    if (!Object.hasOwn(inputs, name)) return undefined;
    const value = inputs[name];
    if (list ? !Array.isArray(value) || !value.every((item) => typeof item === 'string') : typeof value !== 'string') return undefined;
    coerced[name] = value;
  }
  return { coerced };
}

/** `ID`, `ID!` → one id; `[ID!]`, `[ID!]!` → a list; anything else → undefined. */
function idShape(type: TypeNode): { list: boolean } | undefined {
  const nullable = type.kind === Kind.NON_NULL_TYPE ? type.type : type;
  if (nullable.kind === Kind.NAMED_TYPE) return nullable.name.value === 'ID' ? { list: false } : undefined;
  if (nullable.kind !== Kind.LIST_TYPE || nullable.type.kind !== Kind.NON_NULL_TYPE) return undefined;
  const item = nullable.type.type;
  return item.kind === Kind.NAMED_TYPE && item.name.value === 'ID' ? { list: true } : undefined;
}

function userOf(profile: GraphProfile, leaves: readonly LeafStep[], context: GatewayContext): Record<string, unknown> | undefined {
  const user: Record<string, unknown> = {};
  for (const leaf of leaves) {
    let value: unknown;
    try {
      value = leaf.resolve(profile, {}, context, undefined as never);
      if (value instanceof Promise) return undefined;
      value = serialize(leaf, value);
    } catch {
      return undefined; // a field error (e.g. a wrong-typed value from Meta): Apollo reports it
    }
    if (value === undefined || (value === null && leaf.nonNull)) return undefined;
    user[leaf.key] = value;
  }
  return user;
}

function serialize(leaf: LeafStep, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (!leaf.list) return leaf.type.serialize(value);
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => {
    const serialized: unknown = item === null || item === undefined ? null : leaf.type.serialize(item);
    if (serialized === null) throw new Error('null in a list of non-null items');
    return serialized;
  });
}

export interface CompileOptions {
  /** The validation rules Apollo runs on top of graphql's own (limits, introspection). */
  rules: readonly ValidationRule[];
  /** MAX_QUERY_TOKENS */
  maxTokens: number;
}

/**
 * Compiles `query` (with `operationName`) when it is a plain profile read that Apollo would accept;
 * undefined for anything else — a parse or validation error, a mutation, fragments, directives,
 * other fields — which Apollo keeps answering.
 */
export function compileQuery(schema: GraphQLSchema, query: string, operationName: string | undefined, options: CompileOptions): CompiledQuery | undefined {
  let document;
  try {
    document = parse(query, { noLocation: true, maxTokens: options.maxTokens });
  } catch {
    return undefined;
  }
  if (validate(schema, document, [...specifiedRules, ...options.rules], { maxErrors: 1 }).length) return undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query' || operation.directives?.length || document.definitions.length !== 1) return undefined;
  if (operation.variableDefinitions?.some((definition) => definition.directives?.length)) return undefined;

  const queryType = schema.getQueryType()!;
  const roots: RootStep[] = [];
  const graphFields: GraphField[] = [];
  const keys = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || !selection.selectionSet) return undefined;
    const argument = ROOT_FIELDS.get(selection.name.value as 'instagramUser');
    const key = selection.alias?.value ?? selection.name.value;
    // A key asked twice merges selections in graphql: Apollo does that.
    if (!argument || keys.has(key)) return undefined;
    keys.add(key);
    const field = queryType.getFields()[selection.name.value]!;
    const leaves = compileLeaves(schema, selection.selectionSet);
    if (!leaves) return undefined;
    for (const leaf of leaves.graphFields) graphFields.push(leaf);
    roots.push({ key, node: selection, field, argument, leaves: leaves.steps });
  }
  const fields = canonicalFields(graphFields);
  const selections = roots.map((root) => `${fields.join(',')}|${root.leaves.map((leaf) => `${leaf.key}:${leaf.name}`).join(',')}`);
  const shapes = (operation.variableDefinitions ?? []).map((definition) => {
    const shape = idShape(definition.type);
    return shape && { name: definition.variable.name.value, list: shape.list };
  });
  const idVariables = shapes.every((shape) => shape !== undefined) ? shapes : undefined;
  return new CompiledQuery(schema, operation, roots, fields, selections, idVariables);
}

function compileLeaves(schema: GraphQLSchema, selectionSet: SelectionSetNode): { steps: LeafStep[]; graphFields: GraphField[] } | undefined {
  const type = schema.getType('InstagramUser');
  if (!isObjectType(type)) return undefined;
  const fields = type.getFields();
  const steps: LeafStep[] = [];
  const graphFields: GraphField[] = [];
  const keys = new Set<string>();
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || selection.arguments?.length || selection.selectionSet) return undefined;
    const name = selection.name.value;
    if (!PLAIN_FIELDS.has(name)) return undefined;
    const key = selection.alias?.value ?? name;
    // Validation made a repeated key the same field: graphql answers it once, where it first appears.
    if (keys.has(key)) continue;
    keys.add(key);
    if (name === '__typename') {
      steps.push({ key, name, resolve: () => type.name, type: getNamedType(schema.getType('String'))! as GraphQLLeafType, nonNull: true, list: false });
      continue;
    }
    const field = fields[name]!;
    const nullable = getNullableType(field.type);
    const named = getNamedType(field.type);
    if (!isLeafType(named)) return undefined;
    const resolve = (field.resolve ?? ((profile: GraphProfile) => (profile as unknown as Record<string, unknown>)[name])) as Resolve;
    steps.push({ key, name, resolve, type: named, nonNull: isNonNullType(field.type), list: isListType(nullable) });
    graphFields.push(...graphFieldsOf(name));
  }
  return { steps, graphFields };
}
