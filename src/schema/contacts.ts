import { cacheControlFromInfo } from '@apollo/cache-control-types';
import { GraphQLError, Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { z } from 'zod';
import type { GraphField, GraphProfile } from '../graph/profile.js';
import type { Contact } from '../profiles/contacts.js';
import { holdsAll, SEGMENT_FIELDS, type CustomerSegment } from '../profiles/segments.js';
import type { GatewayContext } from './context.js';
import { badUserInput } from './errors.js';
import { selectedGraphFields } from './selection.js';

/** Most edges one `instagramContacts` page may ask for. */
export const CONTACTS_MAX_FIRST = 100;
/** Most contacts one filtered call reads (profiles included) before it hands back a cursor. */
export const CONTACTS_SCAN_LIMIT = 500;
/** A filtered scan reads profiles in pages of one upstream round trip. */
const SCAN_CHUNK = 50;

/** One edge as resolvers see it: the contact, and its profile's outcome when `node` was selected. */
export interface ContactEdge {
  contact: Contact;
  profile: PromiseSettledResult<GraphProfile> | undefined;
}

export interface ContactsArgs {
  first?: number | null;
  after?: string | null;
  segments?: readonly CustomerSegment[] | null;
}

export function encodeCursor(contact: Contact): string {
  return Buffer.from(`${contact.atMs}:${contact.igsid}`).toString('base64url');
}

const cursor = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/)
  .transform((value) => /^(\d{1,15}):(\d{1,20})$/.exec(Buffer.from(value, 'base64url').toString('utf8')))
  .refine((match) => match !== null)
  .transform((match): Contact => ({ atMs: Number(match![1]), igsid: match![2]! }));

function decodeCursor(after: string | null | undefined): Contact | undefined {
  if (after === null || after === undefined) return undefined;
  const parsed = cursor.safeParse(after);
  if (!parsed.success) throw badUserInput('`after` is not a cursor this gateway gave out (pass an `endCursor` or an edge `cursor` as is).');
  return parsed.data;
}

/** Adds `extensions.knownUsername` to a CONSENT_REQUIRED error when a comment webhook told us the handle. */
export async function withKnownUsername<T>(load: Promise<T>, igsid: string, context: GatewayContext): Promise<T> {
  try {
    return await load;
  } catch (error) {
    if (!(error instanceof GraphQLError) || error.extensions.code !== 'CONSENT_REQUIRED') throw error;
    const knownUsername = await context.account.commenters.usernameOf(igsid);
    if (knownUsername === null) throw error;
    throw new GraphQLError(error.message, { extensions: { ...error.extensions, knownUsername } });
  }
}

/** The `edges { node { … } }` field nodes under this field, following fragments. */
function nodeFieldNodes(info: GraphQLResolveInfo): FieldNode[] {
  const under = (sets: ReadonlyArray<SelectionSetNode | undefined>, name: string): FieldNode[] => {
    const found: FieldNode[] = [];
    const visit = (set: SelectionSetNode | undefined, depth: number) => {
      for (const selection of set?.selections ?? []) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value === name) found.push(selection);
        } else if (depth < 10) {
          visit(selection.kind === Kind.INLINE_FRAGMENT ? selection.selectionSet : info.fragments[selection.name.value]?.selectionSet, depth + 1);
        }
      }
    };
    for (const set of sets) visit(set, 0);
    return found;
  };
  const edges = under(info.fieldNodes.map((node) => node.selectionSet), 'edges');
  return under(edges.map((node) => node.selectionSet), 'node');
}

/**
 * `instagramContacts`: a page of the account's contact log, with profiles loaded through the
 * per-request loader (so batched, coalesced and cached like any other lookup). With `segments`,
 * contacts are scanned in chunks of 50 until the page fills or `CONTACTS_SCAN_LIMIT` is reached.
 */
export async function instagramContacts(args: ContactsArgs, context: GatewayContext, info: GraphQLResolveInfo) {
  // Changes with every webhook delivery: never cached whole.
  cacheControlFromInfo(info).setCacheHint({ maxAge: 0 });
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > CONTACTS_MAX_FIRST) {
    throw badUserInput(`instagramContacts takes first between 1 and ${CONTACTS_MAX_FIRST} (got ${first}).`);
  }
  const after = decodeCursor(args.after);
  const wanted = [...new Set(args.segments ?? [])];
  const nodes = nodeFieldNodes(info);
  const selected = nodes.length ? selectedGraphFields({ ...info, fieldNodes: nodes }) : undefined;
  const { account } = context;

  const spend = (n: number) => {
    if (n > context.idsLeft.count) {
      throw badUserInput(`This request asks for more than ${context.maxIdsPerQuery} ids in total across its fields (MAX_IDS_PER_QUERY).`);
    }
    context.idsLeft.count -= n;
  };
  const load = (contacts: readonly Contact[], fields: Iterable<GraphField>) =>
    Promise.allSettled(contacts.map((contact) => withKnownUsername(context.profiles.load(contact.igsid, fields), contact.igsid, context)));

  if (wanted.length === 0) {
    const read = await account.contacts.page(after, first + 1);
    const contacts = read.slice(0, first);
    let profiles: Array<PromiseSettledResult<GraphProfile> | undefined> = contacts.map(() => undefined);
    if (selected) {
      spend(contacts.length);
      profiles = await load(contacts, selected);
    }
    const last = contacts.at(-1);
    return {
      edges: contacts.map((contact, i): ContactEdge => ({ contact, profile: profiles[i] })),
      pageInfo: { hasNextPage: read.length > first, endCursor: last ? encodeCursor(last) : null },
    };
  }

  const budget = Math.min(CONTACTS_SCAN_LIMIT, context.idsLeft.count);
  if (budget === 0) spend(1);
  const fields = new Set<GraphField>([...(selected ?? []), ...SEGMENT_FIELDS]);
  const edges: ContactEdge[] = [];
  let position = after;
  let scanned = 0;
  let more = true;
  while (edges.length < first && more && scanned < budget) {
    const size = Math.min(SCAN_CHUNK, budget - scanned);
    const read = await account.contacts.page(position, size + 1);
    const chunk = read.slice(0, size);
    more = read.length > size;
    spend(chunk.length);
    const profiles = await load(chunk, fields);
    for (const [i, contact] of chunk.entries()) {
      position = contact;
      scanned += 1;
      const profile = profiles[i]!;
      // A profile that failed cannot be judged: it stays, with its error, rather than vanish.
      if (profile.status === 'rejected' || holdsAll(profile.value, wanted, account.influencerMinFollowers)) edges.push({ contact, profile });
      if (edges.length === first) {
        more ||= i < chunk.length - 1;
        break;
      }
    }
  }
  return { edges, pageInfo: { hasNextPage: more, endCursor: position && position !== after ? encodeCursor(position) : null } };
}
