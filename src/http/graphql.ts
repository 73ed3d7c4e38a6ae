import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo from '@as-integrations/fastify';
import DataLoader from 'dataloader';
import type { FastifyInstance } from 'fastify';
import type { GraphQLFormattedError } from 'graphql';
import type { AccountRegistry } from '../accounts.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ProfileLoader } from '../profiles/loader.js';
import type { GatewayContext } from '../schema/context.js';
import { buildGatewaySchema } from '../schema/build.js';
import { noIntrospection } from '../schema/introspection.js';
import { limitRules } from '../schema/limits.js';
import { graphqlTracingPlugin } from '../telemetry.js';
import { RequestAuthorizer, requestError } from './auth.js';

const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'ACCOUNT_REQUIRED', 'ACCOUNT_UNKNOWN', 'BAD_USER_INPUT']);

/** Apollo prefixes errors thrown while building the context; ours are deliberate refusals, worded for clients. */
function formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REFUSALS.has(code) && formatted.message.startsWith('Context creation failed: ')) {
    return { ...formatted, message: formatted.message.slice('Context creation failed: '.length) };
  }
  return formatted;
}

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

/** Counts whole-response cache hits next to the profile cache's own figures. */
function responseCacheMetricsPlugin(metrics: Metrics): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ metrics: request, contextValue }) {
          metrics.cacheLookups.inc({ account: contextValue.account.id, layer: 'response', result: request.responseCacheHit ? 'hit' : 'miss' });
        },
      };
    },
  };
}

/** `POST /graphql` and `GET /graphql`: the Apollo subgraph, one profile loader per operation. */
export async function registerGraphQL(app: FastifyInstance, deps: { config: Config; accounts: AccountRegistry; logger: Logger; metrics: Metrics }) {
  const apollo = new ApolloServer<GatewayContext>({
    schema: buildGatewaySchema(),
    includeStacktraceInErrorResponses: false,
    // Our own rule refuses introspection when it is off (its message names INTROSPECTION).
    introspection: true,
    logger: deps.logger,
    formatError,
    validationRules: [...limitRules(deps.config.limits), ...(deps.config.server.introspection ? [] : [noIntrospection])],
    // Batches are allowed but bounded (MAX_BATCH_OPERATIONS); CSRF prevention stays at Apollo's default (on).
    allowBatchedHttpRequests: true,
    // Apollo's default landing page loads from a CDN; browsers get our offline playground instead.
    // Shutdown is ours (src/index.ts): Fastify stops accepting and waits for requests in flight,
    // bounded by SHUTDOWN_TIMEOUT_MS. Apollo's own signal handler and drain plugin would race it
    // and cut connections after a fixed 10 s.
    stopOnTerminationSignals: false,
    plugins: [
      graphqlTracingPlugin<GatewayContext>(),
      staleProfilesPlugin,
      ApolloServerPluginLandingPageDisabled(),
      // Resolvers hint how long their profiles stay fresh; clients get no Cache-Control from it.
      ApolloServerPluginCacheControl({ defaultMaxAge: 0, calculateHttpHeaders: false }),
      // Whole responses, per account, for exactly as long as every profile in them is fresh: a hot
      // query skips execution entirely. Responses with errors or stale profiles are never cached.
      ...(deps.config.cache.enabled
        ? [responseCachePlugin<GatewayContext>({ sessionId: async ({ contextValue }) => contextValue.account.id }), responseCacheMetricsPlugin(deps.metrics)]
        : []),
    ],
  });
  await apollo.start();
  app.addHook('onClose', async () => apollo.stop());
  const authorizer = new RequestAuthorizer(deps.accounts, deps.config.apiKeys, deps.logger);
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (request): Promise<GatewayContext> => {
      const { batchOperations } = deps.config.limits;
      if (Array.isArray(request.body) && request.body.length > batchOperations) {
        throw requestError(
          'BAD_USER_INPUT',
          400,
          `The batch holds ${request.body.length} operations; at most ${batchOperations} are allowed (MAX_BATCH_OPERATIONS).`,
        );
      }
      const account = authorizer.authorize(request);
      const staleProfiles: GatewayContext['staleProfiles'] = [];
      return {
        account,
        profiles: new ProfileLoader(account.source, (igsid, notice) => staleProfiles.push({ igsid, ...notice })),
        interactions: new DataLoader((igsids: readonly string[]) => account.interactions.lastAt(igsids)),
        maxIdsPerQuery: deps.config.limits.idsPerQuery,
        idsLeft: { count: deps.config.limits.idsPerQuery },
        staleProfiles,
      };
    },
  });
}
