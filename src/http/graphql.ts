import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo from '@as-integrations/fastify';
import DataLoader from 'dataloader';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GraphQLFormattedError } from 'graphql';
import type { AccountRegistry } from '../accounts.js';
import type { AvatarLinks } from '../avatars/links.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ProfileLoader } from '../schema/loader.js';
import type { GatewayContext } from '../schema/context.js';
import { buildGatewaySchema } from '../schema/build.js';
import { noIntrospection } from '../schema/introspection.js';
import { limitRules } from '../schema/limits.js';
import { graphQLErrorBody, jsonNestingDepth, nestingDepth } from './answers.js';
import { graphqlTracingPlugin } from '../telemetry.js';
import { RequestAuthorizer, requestError } from './auth.js';
import { ResponseCache } from './response-cache.js';
import { RecentChanges } from './people.js';
import type { AccountProfiles } from '../profiles/account.js';
import type { ProfileSource } from '../profiles/source.js';
import { HotPath, httpCachePolicyPlugin } from './hot-path.js';
import { WarmPath, withPreloaded } from './warm-path.js';
import { registerHttpCaching, VARY } from './http-cache.js';
import { Front } from './front.js';
import type { FrontHandler } from './connections.js';
import { documentStore, responseStore } from './apollo-caches.js';

const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'ACCOUNT_REQUIRED', 'ACCOUNT_UNKNOWN', 'BAD_USER_INPUT']);

const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] \d+ tokens\. Parsing aborted\.$/;

/**
 * Apollo prefixes errors thrown while building the context; ours are deliberate refusals, worded for
 * clients. graphql's token limit names no setting: say which one.
 */
function formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (code === 'GRAPHQL_PARSE_FAILED' && TOKEN_LIMIT.test(formatted.message)) {
    return { ...formatted, message: `${formatted.message.slice(0, -1)} (MAX_QUERY_TOKENS).` };
  }
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

/** The deepest `variables` of a request (GET: JSON text; POST: one operation or a batch). */
function variablesDepth(request: FastifyRequest, limit: number): number {
  if (request.method === 'GET') {
    const variables = (request.query as Record<string, unknown> | undefined)?.variables;
    return typeof variables === 'string' ? jsonNestingDepth(variables, limit) : 0;
  }
  const operations: unknown[] = Array.isArray(request.body) ? request.body : [request.body];
  let deepest = 0;
  for (const op of operations) {
    if (op !== null && typeof op === 'object') deepest = Math.max(deepest, nestingDepth((op as { variables?: unknown }).variables, limit));
  }
  return deepest;
}

/**
 * Bounds on what reaches Apollo and what leaves it: variables nested deeper than MAX_VARIABLES_DEPTH
 * are refused before execution; an answer over MAX_RESPONSE_BYTES is replaced by an error.
 * Methods Apollo does not serve get 405 in the GraphQL shape.
 */
function registerEdgeLimits(app: FastifyInstance, limits: Config['limits']): void {
  const isGraphQL = (request: FastifyRequest) => request.routeOptions.url === '/graphql';
  // Hooks on every /graphql request take callbacks, not promises: a promise and a microtask per hook show on the hot path.
  app.addHook('preHandler', (request, reply, done) => {
    const depth = isGraphQL(request) ? variablesDepth(request, limits.variablesDepth) : 0;
    if (depth <= limits.variablesDepth) return done();
    const message = `The variables are nested more than ${limits.variablesDepth} levels deep (MAX_VARIABLES_DEPTH).`;
    reply.code(400).type('application/json; charset=utf-8').send(graphQLErrorBody(message, 'BAD_REQUEST'));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!isGraphQL(request) || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return done(null, payload);
    const bytes = Buffer.byteLength(payload);
    if (bytes <= limits.responseBytes) return done(null, payload);
    reply.code(400).type('application/json; charset=utf-8');
    done(null, graphQLErrorBody(`The answer would take ${bytes} bytes; at most ${limits.responseBytes} are sent (MAX_RESPONSE_BYTES). Select fewer fields or ids.`, 'RESPONSE_TOO_LARGE'));
  });
  app.route({
    method: ['PUT', 'DELETE', 'PATCH'],
    url: '/graphql',
    handler: async (_request, reply) =>
      reply
        .code(405)
        .header('allow', 'GET, POST, OPTIONS')
        .type('application/json; charset=utf-8')
        .send(graphQLErrorBody('/graphql answers GET and POST only.', 'BAD_REQUEST')),
  });
}

/** `POST /graphql` and `GET /graphql`: the Apollo subgraph, one profile loader per operation. */
export async function registerGraphQL(
  app: FastifyInstance,
  deps: {
    /** Only the groups it reads. */
    config: Pick<Config, 'limits' | 'server' | 'cache' | 'apiKeys' | 'log'>;
    accounts: AccountRegistry;
    logger: Logger;
    metrics: Metrics;
    avatars: AvatarLinks;
    clock?: Clock;
    /** Headers every answer carries besides Fastify's and ours (the built-in simulator's mark). */
    answerHeaders?: readonly string[];
  },
): Promise<{ front: FrontHandler | undefined }> {
  const clock = deps.clock ?? systemClock;
  const cacheOn = deps.config.cache.enabled;
  // Whole answers (Apollo's response cache and the hot path) stop being served when a person they show changes.
  const changes = new RecentChanges();
  const responses = new ResponseCache(deps.config.cache.responseCacheMaxBytes, clock, changes);
  const authorizer = new RequestAuthorizer(deps.accounts, deps.config.apiKeys, deps.logger);
  const watched = new WeakSet<AccountProfiles>();
  const watch = (account: AccountProfiles) => {
    if (watched.has(account)) return;
    watched.add(account);
    account.onChange?.((igsids) => changes.note(account.id, igsids));
  };
  // The hot and warm paths look at a request's key quietly: Apollo's context refuses it (and logs) once.
  const authorizeQuietly = (headers: IncomingHttpHeaders) => {
    const account = authorizer.peek(headers);
    if (account) watch(account);
    return account;
  };
  const hotOn = cacheOn && deps.config.cache.hotPathMaxBytes > 0;
  const warmOn = cacheOn && deps.config.cache.warmPathMaxBytes > 0;
  const front =
    hotOn || warmOn
      ? new Front({ maxBodyBytes: deps.config.limits.bodyBytes, authorize: authorizeQuietly, logger: deps.logger, accessLog: deps.config.log.accessLog, clock })
      : undefined;
  const hotPath =
    front && hotOn
      ? new HotPath({
          maxBytes: deps.config.cache.hotPathMaxBytes,
          clock,
          readOf: (req) => front.readOf(req),
          onHit: (account) => deps.metrics.cacheLookups.inc({ account, layer: 'response', result: 'hit' }),
          changes,
        })
      : undefined;
  const schema = buildGatewaySchema();
  const validationRules = [...limitRules(deps.config.limits), ...(deps.config.server.introspection ? [] : [noIntrospection])];
  const avatarUrlOf = (account: AccountProfiles) => (igsid: string) => deps.avatars.urlFor(account.id, igsid);
  const warmPath =
    warmOn
      ? new WarmPath({
          maxBytes: deps.config.cache.warmPathMaxBytes,
          schema,
          compile: { rules: validationRules, maxTokens: deps.config.limits.queryTokens },
          authorize: authorizeQuietly,
          context: (account) => ({ account, avatarUrl: avatarUrlOf(account), clock }),
          maxIdsPerQuery: deps.config.limits.idsPerQuery,
          onAnswer: (account) => {
            deps.metrics.cacheLookups.inc({ account, layer: 'response', result: 'miss' });
            deps.metrics.warmPathAnswers.inc({ account });
          },
          hotPath,
          changes,
          answerHeaders: ['content-type', 'application/json; charset=utf-8', 'vary', VARY, ...(deps.answerHeaders ?? [])],
          maxResponseBytes: deps.config.limits.responseBytes,
          variablesDepth: deps.config.limits.variablesDepth,
        })
      : undefined;
  if (hotPath) front?.use((read) => hotPath.answer(read));
  if (warmPath) front?.use((read) => warmPath.answerNow(read));
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    includeStacktraceInErrorResponses: false,
    // Our own rule refuses introspection when it is off (its message names INTROSPECTION).
    introspection: true,
    logger: deps.logger,
    formatError,
    validationRules,
    parseOptions: { maxTokens: deps.config.limits.queryTokens },
    // Both bounded by estimated bytes: Apollo's defaults count a document by its JSON length.
    documentStore: documentStore(deps.config.cache.documentCacheMaxBytes),
    cache: responseStore(deps.config.cache.responseCacheMaxBytes),
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
      ...(cacheOn
        ? [
            responseCachePlugin<GatewayContext>({
              sessionId: async ({ contextValue }) => contextValue.account.id,
              // The plugin types the context loosely; it is ours.
              generateCacheKey: (requestContext, keyData) => responses.keyFor(requestContext.contextValue as GatewayContext, keyData),
              cache: responses,
              // A single JSON POST is kept by the hot path, before Apollo: a second copy here would
              // cost a digest, a serialisation and a write per distinct body, and serve nothing.
              shouldReadFromCache: async ({ contextValue }) => !contextValue.keptByHotPath,
              shouldWriteToCache: async ({ contextValue }) => !contextValue.keptByHotPath,
            }),
            responseCacheMetricsPlugin(deps.metrics),
          ]
        : []),
      httpCachePolicyPlugin,
    ],
  });
  await apollo.start();
  app.addHook('onClose', async () => apollo.stop());
  registerEdgeLimits(app, deps.config.limits);
  registerHttpCaching(app);
  front?.register(app);
  hotPath?.register(app);
  warmPath?.register(app);
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
      const account = authorizer.authorize(request.headers);
      watch(account);
      const staleProfiles: GatewayContext['staleProfiles'] = [];
      const shown: GatewayContext['shown'] = new Map();
      const keptByHotPath = hotPath?.track(request, shown) ?? false;
      // What the warm path already loaded for this request is not read again.
      const preloaded = warmPath?.preloaded(request);
      const upstream = withPreloaded(account.source, preloaded);
      const source: ProfileSource = {
        load: async (igsids, fields) => {
          const outcomes = await upstream.load(igsids, fields);
          const readAt = Math.min(changes.now(), preloaded?.readAt ?? Number.POSITIVE_INFINITY);
          for (const igsid of igsids) if (!shown.has(igsid)) shown.set(igsid, readAt);
          return outcomes;
        },
      };
      return {
        account,
        profiles: new ProfileLoader(source, (igsid, notice) => staleProfiles.push({ igsid, ...notice })),
        interactions: new DataLoader((igsids: readonly string[]) => account.interactions.lastAt(igsids)),
        maxIdsPerQuery: deps.config.limits.idsPerQuery,
        idsLeft: { count: deps.config.limits.idsPerQuery },
        staleProfiles,
        avatarUrl: avatarUrlOf(account),
        clock,
        shown,
        keptByHotPath,
      };
    },
  });
  return { front: front && ((req, res, next) => front.handle(req, res, next)) };
}
