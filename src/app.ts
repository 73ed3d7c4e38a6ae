import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { parse } from 'graphql';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { createAccountProfiles, type AccountProfiles } from './profiles/account.js';
import { createCacheStore, type CacheStore } from './profiles/cache-store.js';
import { ProfileLoader } from './profiles/loader.js';
import type { GatewayContext } from './schema/context.js';
import { resolvers } from './schema/resolvers.js';
import { loadSdl } from './schema/sdl.js';
import { startSimulator, type Simulator } from './simulator/index.js';

export interface Gateway {
  app: FastifyInstance;
  account: AccountProfiles;
  metrics: Metrics;
  store: CacheStore | undefined;
  /** The in-process simulator when no access token is configured (demo mode). */
  simulator: Simulator | undefined;
  listen(): Promise<string>;
  close(): Promise<void>;
}

const SIMULATOR_TOKEN = 'simulator-demo-token';

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

/** Wires config → account profiles (Graph client … cache) → GraphQL server → HTTP routes. */
export async function createGateway(config: Config, logger: Logger): Promise<Gateway> {
  let simulator: Simulator | undefined;
  if (config.simulated) {
    simulator = await startSimulator({ latencyMs: 25 });
    logger.warn(
      { simulator: simulator.url },
      '⚠ SIMULATED DATA ⚠ INSTAGRAM_ACCESS_TOKEN is not set: every profile comes from the built-in Graph API simulator, not from Instagram. Set INSTAGRAM_ACCESS_TOKEN to serve real data.',
    );
  }
  const metrics = new Metrics();
  const store = config.cache.enabled
    ? createCacheStore({
        maxEntries: config.cache.maxEntries,
        redisUrl: config.cache.redisUrl,
        redisTimeoutMs: config.cache.redisTimeoutMs,
        logger,
        metrics,
      })
    : undefined;
  const account = await createAccountProfiles({
    config,
    graphUrl: simulator?.url ?? config.graphUrl,
    credentials: simulator
      ? { accessToken: SIMULATOR_TOKEN }
      : { accessToken: config.accessToken!, appSecret: config.appSecret },
    logger,
    metrics,
    store,
  });

  // Fastify's per-request info lines would dominate the log under load; one debug line per request instead.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    schema: buildSubgraphSchema({ typeDefs: parse(loadSdl()), resolvers: resolvers as never }),
    includeStacktraceInErrorResponses: false,
    logger,
    plugins: [fastifyApolloDrainPlugin(app), staleProfilesPlugin],
  });
  await apollo.start();

  if (simulator) {
    app.addHook('onSend', async (_request, reply) => {
      reply.header('x-gateway-data', 'simulated');
    });
  }
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, path: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request served',
    );
  });
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (): Promise<GatewayContext> => {
      const staleProfiles: GatewayContext['staleProfiles'] = [];
      return {
        profiles: new ProfileLoader(account.source, (igsid, notice) => staleProfiles.push({ igsid, ...notice })),
        maxIdsPerQuery: config.maxIdsPerQuery,
        staleProfiles,
      };
    },
  });
  // Fastify's default 404 echoes the whole URL, query string (and any token in it) included.
  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return { error: 'Not Found', message: `No route ${request.method} ${request.url.split('?')[0]}` };
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    const cache = store?.state() ?? { layer: 'none', status: 'ok' };
    return { status: cache.status === 'ok' ? 'ready' : 'degraded', account: account.id, cache };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return {
    app,
    account,
    metrics,
    store,
    simulator,
    listen: () => app.listen({ port: config.port, host: config.host }),
    async close() {
      await app.close();
      await store?.close();
      await simulator?.close();
    },
  };
}
