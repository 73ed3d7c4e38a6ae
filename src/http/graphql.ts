import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import type { AccountRegistry } from '../accounts.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ProfileLoader } from '../profiles/loader.js';
import type { GatewayContext } from '../schema/context.js';
import { buildGatewaySchema } from '../schema/build.js';

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
    schema: buildGatewaySchema(),
    includeStacktraceInErrorResponses: false,
    introspection: deps.config.introspection,
    logger: deps.logger,
    // Apollo's default landing page loads from a CDN; browsers get our offline playground instead.
    plugins: [fastifyApolloDrainPlugin(app), staleProfilesPlugin, ApolloServerPluginLandingPageDisabled()],
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
        maxIdsPerQuery: deps.config.maxIdsPerQuery,
        staleProfiles,
      };
    },
  });
}
