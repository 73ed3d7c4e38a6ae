import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentsOf } from '../src/profiles/segments.js';
import { simulatedProfile } from '../src/simulator/index.js';
import { igsids, postGraphQL, startStack, type Stack } from './support/stack.js';
import { deliver, messageItem, WEBHOOK_ENV } from './support/webhook.js';
import { waitFor } from './support/wait.js';

/** segments, displayName and instagramContacts through a supergraph composed with a second subgraph. */
const INBOX_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Conversation @key(fields: "id") { id: ID! sender: InstagramUser }
  type InstagramUser @key(fields: "id", resolvable: false) { id: ID! }
  type Query { conversations(senderIds: [ID!]!): [Conversation!]! }
`;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let stack: Stack;
let inbox: ApolloServer;
let supergraph: ApolloServer;
let url: string;

beforeAll(async () => {
  stack = await startStack({ env: { ...WEBHOOK_ENV, CACHE_ENABLED: 'false' } });
  inbox = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(INBOX_SDL),
      resolvers: { Query: { conversations: (_: unknown, { senderIds }: { senderIds: string[] }) => senderIds.map((id, i) => ({ id: `c${i}`, sender: { id } })) } },
    }),
    logger: quiet,
  });
  const { url: inboxUrl } = await startStandaloneServer(inbox, { listen: { host: '127.0.0.1', port: 0 } });
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({ subgraphs: [{ name: 'instagram', url: `${stack.url}/graphql` }, { name: 'inbox', url: inboxUrl }] }),
    logger: quiet,
  });
  supergraph = new ApolloServer({ gateway, logger: quiet });
  ({ url } = await startStandaloneServer(supergraph, { listen: { host: '127.0.0.1', port: 0 } }));
  url = url.replace(/\/$/, '');
});
afterAll(async () => {
  await supergraph?.stop();
  await inbox?.stop();
  await stack?.close();
});

describe('CRM fields in a supergraph', () => {
  it('resolves segments and displayName of entities, and instagramContacts with its cursors', async () => {
    const ids = igsids(4, 7000);
    expect(await deliver(stack.url, ids.map((id, i) => messageItem(id, `m-fed-${i}`, Date.now() - i * 1000)))).toBe(200);
    await waitFor(async () => (await stack.gql<{ instagramContacts: { edges: unknown[] } }>('{ instagramContacts { edges { igsid } } }')).data?.instagramContacts.edges.length === 4, { what: 'contacts' });
    const expected = ids.map((id) => {
      const p = simulatedProfile(id);
      return { id, displayName: p.name ?? p.username, segments: segmentsOf({ id, ...p }, 10_000) };
    });

    stack.sim.resetCalls();
    const entities = await postGraphQL<{ conversations: Array<{ sender: unknown }> }>(url, 'query($ids: [ID!]!) { conversations(senderIds: $ids) { sender { id displayName segments } } }', { ids });
    expect(entities.errors).toBeUndefined();
    expect(entities.data!.conversations.map((c) => c.sender)).toEqual(expected);
    expect(stack.sim.roundTrips()).toBe(1);

    type Page = { instagramContacts: { edges: Array<{ node: unknown }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    const query = 'query($after: String) { instagramContacts(first: 3, after: $after) { edges { node { id displayName segments } } pageInfo { hasNextPage endCursor } } }';
    const one = await postGraphQL<Page>(url, query, {});
    expect(one.errors).toBeUndefined();
    expect(one.data!.instagramContacts.edges.map((edge) => edge.node)).toEqual(expected.slice(0, 3));
    const two = await postGraphQL<Page>(url, query, { after: one.data!.instagramContacts.pageInfo.endCursor });
    expect(two.data!.instagramContacts.edges.map((edge) => edge.node)).toEqual(expected.slice(3));
    expect(two.data!.instagramContacts.pageInfo.hasNextPage).toBe(false);
  });
});
