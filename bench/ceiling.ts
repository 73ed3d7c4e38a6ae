// The benchmark's ceiling: a bare Apollo Server (standalone HTTP server, default plugins) serving the
// gateway's own SDL from one static object, so every query is parsed, validated and executed but
// nothing is looked up. Prints `{"address": …}` once listening; stops on SIGTERM.
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

const server = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: parse(loadSdl()),
    resolvers: {
      Query: {
        instagramUser: (_parent: unknown, { id }: { id: string }) => profile(id),
        instagramUsers: (_parent: unknown, { ids }: { ids: string[] }) => ids.map(profile),
      },
    } as never,
  }),
});

const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
process.stdout.write(`${JSON.stringify({ address: url.replace(/\/$/, '') })}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
