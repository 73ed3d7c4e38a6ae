// The benchmark's ceiling: a bare Apollo Server (standalone HTTP server, default plugins) serving the
// gateway's own SDL from one static object, so every query is parsed, validated and executed but
// nothing is looked up. Prints `{"address": …}` once listening; stops on SIGTERM.
// CEILING_DELAY_MS=40: each answer waits that long first, as one upstream round trip would make it
// (the bench's late ceiling in P2: bare Apollo over an upstream that costs one round trip, no more).
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { loadSdl } from '../src/schema/sdl.js';

const profile = (id: string) => ({
  id,
  name: 'Static Profile',
  username: 'static.profile',
  profilePic: null,
  profilePicExpiresAt: null,
  followerCount: 1234,
  isUserFollowBusiness: true,
  isBusinessFollowUser: false,
  isVerifiedUser: false,
  lastInteractionAt: null,
});

const DELAY_MS = Number(process.env.CEILING_DELAY_MS ?? 0);
const late = <T>(value: T): T | Promise<T> => (DELAY_MS > 0 ? new Promise((resolve) => setTimeout(() => resolve(value), DELAY_MS)) : value);

const server = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: parse(loadSdl()),
    resolvers: {
      Query: {
        instagramUser: (_parent: unknown, { id }: { id: string }) => late(profile(id)),
        instagramUsers: (_parent: unknown, { ids }: { ids: string[] }) => late(ids.map(profile)),
      },
    } as never,
  }),
});

const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
process.stdout.write(`${JSON.stringify({ address: url.replace(/\/$/, '') })}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
