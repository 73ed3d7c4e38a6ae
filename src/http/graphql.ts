import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import DataLoader from 'dataloader';
import type { FastifyInstance } from 'fastify';
import { parse } from 'graphql';
import type { AccountRegistry } from '../accounts.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ProfileLoader } from '../profiles/loader.js';
import type { GatewayContext } from '../schema/context.js';
import { resolvers } from '../schema/resolvers.js';
import { loadSdl } from '../schema/sdl.js';

/** Adds `extensions.staleProfiles` when some profile was served stale because Meta failed. */
const staleProfilesPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        if (response.body.kind !== 'single' || contextValue.staleProfiles.length === 0) return;
        response.body.singleResult.extensions = {
          ...response.body.singleResult.extensions,
          staleProfiles: contextValue.staleProfiles,
        };
      },
    };
  },
};

/** `POST /graphql` and `GET /graphql`: the Apollo subgraph, one profile loader per operation. */
export async function registerGraphQL(app: FastifyInstance, deps: { config: Config; accounts: AccountRegistry; logger: Logger }) {
  const apollo = new ApolloServer<GatewayContext>({
    schema: buildSubgraphSchema({ typeDefs: parse(loadSdl()), resolvers: resolvers as never }),
    includeStacktraceInErrorResponses: false,
    logger: deps.logger,
    plugins: [fastifyApolloDrainPlugin(app), staleProfilesPlugin],
  });
  await apollo.start();
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (): Promise<GatewayContext> => {
      const account = deps.accounts.only()!;
      const staleProfiles: GatewayContext['staleProfiles'] = [];
      return {
        account,
        profiles: new ProfileLoader(account.source, (igsid, notice) => staleProfiles.push({ igsid, ...notice })),
        interactions: new DataLoader((igsids: readonly string[]) => account.interactions.lastAt(igsids)),
        maxIdsPerQuery: deps.config.maxIdsPerQuery,
        staleProfiles,
      };
    },
  });
}
