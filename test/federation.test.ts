import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simulatedProfile } from '../src/simulator/index.js';
import { igsids, postGraphQL, startStack, type Stack } from './support/stack.js';

/**
 * The gateway as one subgraph of a real supergraph: a second subgraph (a tiny inbox service) refers
 * to users by id, Apollo's own composition builds the supergraph from both subgraphs' `_service { sdl }`,
 * and Apollo's JavaScript gateway plans the query and calls our `_entities` for the senders.
 */
const INBOX_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Conversation @key(fields: "id") {
    id: ID!
    sender: InstagramUser
  }
  type InstagramUser @key(fields: "id", resolvable: false) {
    id: ID!
  }
  type Query {
    "One conversation per sender id, in order."
    conversations(senderIds: [ID!]!): [Conversation!]!
  }
`;

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

async function startInbox(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(INBOX_SDL),
      resolvers: {
        Query: {
          conversations: (_: unknown, { senderIds }: { senderIds: string[] }) =>
            senderIds.map((id, index) => ({ id: `c${index}`, sender: { id } })),
        },
      },
    }),
    logger: quietLogger,
  });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  return { url, stop: () => server.stop() };
}

interface Conversations {
  conversations: Array<{ id: string; sender: { id: string; username: string | null } | null }>;
}

let stack: Stack;
let inbox: Awaited<ReturnType<typeof startInbox>>;
let supergraph: ApolloServer;
let supergraphUrl: string;

beforeAll(async () => {
  stack = await startStack();
  inbox = await startInbox();
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'instagram', url: `${stack.url}/graphql` },
        { name: 'inbox', url: inbox.url },
      ],
    }),
    logger: quietLogger,
  });
  supergraph = new ApolloServer({ gateway, logger: quietLogger });
  ({ url: supergraphUrl } = await startStandaloneServer(supergraph, { listen: { host: '127.0.0.1', port: 0 } }));
  supergraphUrl = supergraphUrl.replace(/\/$/, '');
});
afterAll(async () => {
  await supergraph?.stop();
  await inbox?.stop();
  await stack?.close();
});
beforeEach(() => stack.sim.resetCalls());

const query = (ids: string[]) =>
  postGraphQL<Conversations>(
    supergraphUrl,
    `query($ids: [ID!]!) { conversations(senderIds: $ids) { id sender { id username } } }`,
    { ids },
  );

describe('Federation 2 subgraph', () => {
  it('serves its subgraph SDL on _service, with the @key', async () => {
    const answer = await stack.gql<{ _service: { sdl: string } }>('{ _service { sdl } }');
    const sdl = answer.data!._service.sdl;
    expect(sdl).toMatch(/type InstagramUser\s+@key\(fields: "id"\)/);
    expect(sdl).toContain('specs.apollo.dev/federation/v2');
    expect(() => parse(sdl)).not.toThrow();
  });

  it('resolves 60 senders through the composed gateway in ⌈60/50⌉ = 2 round trips, then from cache', async () => {
    const ids = igsids(60, 5000);
    const answer = await query(ids);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.conversations).toHaveLength(60);
    answer.data!.conversations.forEach((conversation, index) => {
      expect(conversation.sender).toEqual({ id: ids[index], username: simulatedProfile(ids[index]!).username });
    });
    const batches = stack.sim.calls.filter((call) => call.kind === 'batch');
    expect(stack.sim.roundTrips()).toBe(2);
    expect(batches.map((call) => call.ids.length).sort((a, b) => a - b)).toEqual([10, 50]);
    expect(batches.every((call) => call.fields.join() === 'username')).toBe(true);
    console.info(`federation: 60-entity _entities call through the composed gateway → ${stack.sim.roundTrips()} upstream round trips`);

    stack.sim.resetCalls();
    const again = await query(ids);
    expect(again.data).toEqual(answer.data);
    expect(stack.sim.roundTrips()).toBe(0);
  });

  it('gives a sender without consent a typed error at its own path while the others resolve', async () => {
    const ids = igsids(5, 6000);
    ids.splice(2, 0, '99900077');
    const answer = await query(ids);
    expect(answer.data?.conversations).toHaveLength(6);
    // The id comes from the inbox subgraph; what our subgraph owns is null, with the error.
    expect(answer.data!.conversations[2]!.sender).toEqual({ id: '99900077', username: null });
    for (const [index, conversation] of answer.data!.conversations.entries()) {
      if (index !== 2) expect(conversation.sender?.username).toBe(simulatedProfile(ids[index]!).username);
    }
    expect(answer.errors).toHaveLength(1);
    const [error] = answer.errors!;
    expect(error!.extensions?.code).toBe('CONSENT_REQUIRED');
    expect(error!.extensions?.igsid).toBe('99900077');
    expect(error!.path).toEqual(['conversations', 2, 'sender']);
    expect(stack.sim.roundTrips()).toBe(1);
  });

  it('rejects a representation whose id is not an IGSID with BAD_USER_INPUT, without calling Meta', async () => {
    const answer = await query(['not-an-id', igsids(1, 7000)[0]!]);
    expect(answer.data!.conversations[0]!.sender).toEqual({ id: 'not-an-id', username: null });
    expect(answer.data!.conversations[1]!.sender?.id).toBe(igsids(1, 7000)[0]);
    expect(answer.errors?.map((error) => [error.extensions?.code, error.path])).toEqual([
      ['BAD_USER_INPUT', ['conversations', 0, 'sender']],
    ]);
    expect(stack.sim.calls.flatMap((call) => call.ids)).not.toContain('not-an-id');
  });
});

describe('npm run schema:print', () => {
  it('writes a subgraph SDL that parses, carries the @key and composes with another subgraph', () => {
    const folder = mkdtempSync(join(tmpdir(), 'igpg-sdl-'));
    try {
      const file = join(folder, 'nested', 'subgraph.graphql');
      // What `npm run schema:print -- <file>` runs (the build is fresh: npm test builds first).
      const printed = spawnSync(process.execPath, [fileURLToPath(new URL('../dist/src/schema/print.js', import.meta.url)), file], { encoding: 'utf8' });
      expect(printed.status, printed.stderr).toBe(0);
      expect(printed.stdout).toContain(file);
      const sdl = readFileSync(file, 'utf8');
      expect(() => parse(sdl)).not.toThrow();
      expect(sdl).toMatch(/type InstagramUser\s+@key\(fields: "id"\)/);
      const composed = composeServices([
        { name: 'instagram', url: 'http://127.0.0.1/graphql', typeDefs: parse(sdl) },
        { name: 'inbox', url: 'http://127.0.0.1/inbox', typeDefs: parse(INBOX_SDL) },
      ]);
      expect(composed.errors).toBeUndefined();
      expect(composed.supergraphSdl).toContain('join__type(graph: INSTAGRAM, key: "id")');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('in a supergraph with GATEWAY_API_KEYS_FILE set', () => {
  it('answers the router that sends Authorization, and refuses entity lookups without it', async () => {
    const key = 'router-key-0123456789abcdef';
    const folder = mkdtempSync(join(tmpdir(), 'igpg-keys-'));
    const keysFile = join(folder, 'keys.json');
    writeFileSync(keysFile, JSON.stringify([{ key, accounts: ['*'] }]));
    const secured = await startStack({ env: { GATEWAY_API_KEYS_FILE: keysFile } });
    const servers: ApolloServer[] = [];
    // The README's recipe: a RemoteGraphQLDataSource that sets the header on every subgraph request.
    const startSupergraph = async (sendKey: boolean) => {
      const gateway = new ApolloGateway({
        supergraphSdl: new IntrospectAndCompose({
          subgraphs: [
            { name: 'instagram', url: `${secured.url}/graphql` },
            { name: 'inbox', url: inbox.url },
          ],
          introspectionHeaders: { authorization: `Bearer ${key}` },
        }),
        buildService: ({ url }) =>
          new RemoteGraphQLDataSource({
            url,
            willSendRequest: ({ request }) => {
              if (sendKey) request.http?.headers.set('authorization', `Bearer ${key}`);
            },
          }),
        logger: quietLogger,
      });
      const server = new ApolloServer({ gateway, logger: quietLogger });
      servers.push(server);
      const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
      return url.replace(/\/$/, '');
    };
    try {
      const ids = igsids(3, 8000);
      const query = `query($ids: [ID!]!) { conversations(senderIds: $ids) { sender { id username } } }`;
      const withKey = await postGraphQL<Conversations>(await startSupergraph(true), query, { ids });
      expect(withKey.errors).toBeUndefined();
      expect(withKey.data!.conversations.map((c) => c.sender?.username)).toEqual(ids.map((id) => simulatedProfile(id).username));

      const withoutKey = await postGraphQL<Conversations>(await startSupergraph(false), query, { ids });
      expect(withoutKey.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(withoutKey.data?.conversations.every((c) => c.sender?.username === null)).toBe(true);
    } finally {
      for (const server of servers) await server.stop();
      await secured.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
