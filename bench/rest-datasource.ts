// The benchmark's "bare Apollo wrapper": Apollo Server (standalone HTTP server, default plugins) over
// the gateway's own SDL, reading each profile from the same upstream with Apollo's
// `@apollo/datasource-rest` RESTDataSource, one GET per id (its defaults: one data source per
// request, GET deduplication, HTTP cache on the server's cache). Upstream: GRAPH_URL and
// GRAPH_TOKEN from the environment. Prints `{"address": …}` once listening; stops on SIGTERM.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { RESTDataSource, type AugmentedRequest } from '@apollo/datasource-rest';
import { parse } from 'graphql';
import type { GraphProfile } from '../src/graph/profile.js';
import { loadSdl } from '../src/schema/sdl.js';

const FIELDS = 'name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user';

class InstagramApi extends RESTDataSource {
  override baseURL = `${process.env.GRAPH_URL ?? 'http://127.0.0.1:4010'}/v23.0/`;

  protected override willSendRequest(_path: string, request: AugmentedRequest) {
    request.headers['authorization'] = `Bearer ${process.env.GRAPH_TOKEN ?? 'bench-token'}`;
  }

  async user(id: string) {
    const user = await this.get<GraphProfile>(encodeURIComponent(id), { params: { fields: FIELDS } });
    return {
      id,
      name: user.name ?? null,
      username: user.username ?? null,
      profilePic: user.profile_pic ?? null,
      profilePicExpiresAt: null,
      followerCount: user.follower_count ?? null,
      isUserFollowBusiness: user.is_user_follow_business ?? null,
      isBusinessFollowUser: user.is_business_follow_user ?? null,
      isVerifiedUser: user.is_verified_user ?? null,
      lastInteractionAt: null,
    };
  }
}

interface Context {
  api: InstagramApi;
}

const server = new ApolloServer<Context>({
  schema: buildSubgraphSchema({
    typeDefs: parse(loadSdl()),
    resolvers: {
      Query: {
        instagramUser: (_parent: unknown, { id }: { id: string }, { api }: Context) => api.user(id),
        instagramUsers: (_parent: unknown, { ids }: { ids: string[] }, { api }: Context) => Promise.all(ids.map((id) => api.user(id))),
      },
    } as never,
  }),
});

const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: () => Promise.resolve({ api: new InstagramApi({ cache: server.cache }) }),
});
process.stdout.write(`${JSON.stringify({ address: url.replace(/\/$/, '') })}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
