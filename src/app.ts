import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AccountRegistry } from './accounts.js';
import type { Config } from './config.js';
import { clientErrorHandler, graphQLErrorBody, httpErrorCode } from './http/answers.js';
import { ConnectionTracker, createTimedServer, type FrontHandler } from './http/connections.js';
import { registerAvatars } from './http/avatars.js';
import { registerGraphQL } from './http/graphql.js';
import { registerOps } from './http/ops.js';
import { registerPlayground } from './http/playground.js';
import { registerWebhooks } from './http/webhooks.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { systemClock, type Clock } from './clock.js';
import { Slots } from './graph/slots.js';
import { createAccountProfiles, type AccountDeps, type AccountProfiles } from './profiles/account.js';
import { createCacheStore, type CacheStore } from './profiles/cache-store.js';
import { CrmRedis } from './profiles/crm-redis.js';
import { startSimulator, type Simulator } from './simulator/index.js';
import { Readiness } from './readiness.js';
import { isPlaceholderId } from './health.js';
import { createTelemetry, registerHttpTracing } from './telemetry.js';
import { AccountTokens } from './tokens/index.js';
import { UpstreamFailureLog } from './upstream-log.js';
import { createReplicas } from './replicas/index.js';

export interface Gateway {
  app: FastifyInstance;
  accounts: AccountRegistry;
  metrics: Metrics;
  store: CacheStore | undefined;
  /** Each account's token state and expiry (undefined in demo mode). */
  tokens: AccountTokens | undefined;
  /** The in-process simulator when no access token is configured (demo mode). */
  simulator: Simulator | undefined;
  listen(): Promise<string>;
  close(): Promise<void>;
}

const SIMULATOR_TOKEN = 'simulator-demo-token';
/** The header that marks every answer of the built-in simulator's data. */
const SIMULATED = ['x-gateway-data', 'simulated'] as const;

export interface GatewayOptions {
  /** Time for every TTL, window, pause and timestamp check; the system clock by default (tests move it). */
  clock?: Clock;
}

/** Wires config → cache store → accounts (Graph client … cache) → HTTP routes. */
export async function createGateway(config: Config, logger: Logger, options: GatewayOptions = {}): Promise<Gateway> {
  const clock = options.clock ?? systemClock;
  let simulator: Simulator | undefined;
  if (config.simulated) {
    simulator = await startSimulator({ latencyMs: 25, selfCdn: true });
    logger.warn(
      { simulator: simulator.url },
      '⚠ SIMULATED DATA ⚠ INSTAGRAM_ACCESS_TOKEN is not set: every profile comes from the built-in Graph API simulator, not from Instagram. Set INSTAGRAM_ACCESS_TOKEN to serve real data.',
    );
  }
  const telemetry = await createTelemetry(config.telemetry, logger);
  const metrics = new Metrics();
  const store = config.cache.enabled
    ? createCacheStore({
        maxEntries: config.cache.maxEntries,
        maxBytes: config.cache.maxBytes,
        redisUrl: config.cache.redisUrl,
        redisTimeoutMs: config.cache.redisTimeoutMs,
        logger,
        metrics,
        clock,
      })
    : undefined;
  const crmRedis = config.cache.redisUrl ? new CrmRedis(config.cache.redisUrl, config.cache.redisTimeoutMs, logger, metrics) : undefined;
  const replicas = createReplicas(config.cache, store, logger, metrics);
  // One chain per account (own token, proof, usage guard, groups and cache keys); demo mode has one simulated account.
  const credentials = simulator ? [{ accessToken: SIMULATOR_TOKEN }] : config.accounts;
  const { maxConcurrency, queueLimit, queueWaitMs } = config.graph;
  const upstreamSlots = new Slots({ max: maxConcurrency, queueLimit, maxWaitMs: queueWaitMs }, clock);
  // Live credentials: the newest stored token at start, refreshed on schedule (not in demo mode).
  const tokens = simulator ? undefined : new AccountTokens({ tokens: config.tokens, redisUrl: config.cache.redisUrl, keyPrefix: config.cache.keyPrefix, graphUrl: config.graph.url, timeoutMs: config.graph.timeoutMs, clock, logger, metrics, telemetry });
  const readiness = new Readiness({ tokens, store, clock, logger });
  const failures = new UpstreamFailureLog({ logger, clock, intervalMs: config.log.upstreamFailureIntervalMs });
  const built = new Map<AccountProfiles, Omit<AccountDeps, 'health'>>();
  const profiles = await Promise.all(
    credentials.map(async (account) => {
      const live = tokens ? await tokens.prepare(account) : { accessToken: account.accessToken, appSecret: account.appSecret };
      const deps = {
        graph: config.graph,
        batching: config.batching,
        cache: config.cache,
        graphUrl: simulator?.url ?? config.graph.url,
        credentials: live,
        accountId: account.id,
        logger,
        metrics,
        store,
        upstreamSlots,
        crm: config.crm,
        crmRedis,
        failures,
        clock,
        replicas,
        refresh: config.refresh,
      };
      const profile = await readiness.build((health) => createAccountProfiles({ ...deps, health }));
      built.set(profile, deps);
      tokens?.start(live, profile.id);
      return profile;
    }),
  );
  const accounts = new AccountRegistry(profiles);

  let front: FrontHandler | undefined;
  let closing = false;
  // Fastify's per-request info lines would dominate the log under load; one line per request instead (info with ACCESS_LOG).
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.limits.bodyBytes,
    logController: new LogController({ disableRequestLogging: true }),
    // The hot path answers before Fastify (registerGraphQL sets `front`); never while shutting down.
    serverFactory: (handler) => createTimedServer(config.timeouts, (req, res) => (front && !closing ? front(req, res, () => handler(req, res)) : handler(req, res))),
    clientErrorHandler,
    // Valid JSON parses; a `__proto__` or `constructor.prototype` key is dropped, never applied.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  });
  const connections = new ConnectionTracker(app.server);
  registerHttpTracing(app, telemetry);
  // While shutting down, answers close their connection: a client's keep-alive socket must not hold the process open.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  // Fastify's own refusals (413, 415, malformed JSON…) come in its own shape: /graphql answers in
  // the GraphQL shape, and a 413 names the setting to raise.
  app.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const message =
      status === 413
        ? `The request body exceeds ${config.limits.bodyBytes} bytes (MAX_BODY_BYTES).`
        : status >= 500
          ? 'Internal server error.'
          : (error.message ?? 'Bad request.').slice(0, 200);
    if (request.url.split('?')[0] === '/graphql') {
      return reply.code(status).type('application/json; charset=utf-8').send(graphQLErrorBody(message, httpErrorCode(status)));
    }
    if (status !== 413) return reply.send(error);
    return reply.code(413).send({ error: 'Payload Too Large', message });
  });
  if (simulator) {
    app.addHook('onSend', (_request, reply, payload, done) => {
      reply.header(SIMULATED[0], SIMULATED[1]);
      done(null, payload);
    });
  }
  app.addHook('onResponse', (request, reply, done) => {
    request.log[config.log.accessLog ? 'info' : 'debug'](
      { method: request.method, path: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request served',
    );
    done();
  });
  registerPlayground(app, { enabled: config.server.playground });
  const { links: avatars, service: avatarService } = registerAvatars(app, {
    config,
    accounts,
    secrets: profiles.map((account, i) => ({ id: account.id, ...credentials[i]! })),
    extraHosts: simulator ? [new URL(simulator.url).hostname] : [],
    store,
    metrics,
    logger,
    replicas: replicas && {
      changed: (account, igsids) => replicas.invalidation.changed(account, igsids),
      onChanged: (listener) => replicas.link.onMessage((message) => message.t === 'drop' && listener(message.account, message.ids)),
    },
  });
  ({ front } = await registerGraphQL(app, { config, accounts, logger, metrics, avatars, clock, answerHeaders: simulator ? SIMULATED : [] }));
  await registerWebhooks(app, { config, accounts, metrics, store, logger, telemetry, clock });
  registerOps(app, { accounts, metrics, readiness });
  // Refresh-ahead re-reads active contacts' profiles, and their cached pictures follow.
  const startRefreshAhead = (account: AccountProfiles) => {
    if (!account.refreshAhead) return;
    account.refreshAhead.onRefreshed = (refreshed, heldBack) => avatarService.warm(account, refreshed, heldBack);
    account.refreshAhead.start();
  };
  for (const account of profiles) startRefreshAhead(account);
  // An account rebuilt under its real id (a late /me) takes over refresh-ahead from its stand-in.
  readiness.relearn(accounts, async (standIn) => {
    const account = await readiness.build((health) => createAccountProfiles({ ...built.get(standIn)!, health }));
    if (isPlaceholderId(account.id)) return account;
    avatars.learned(standIn.id, account.id);
    await standIn.refreshAhead?.close();
    if (!closing) startRefreshAhead(account);
    return account;
  });

  return {
    app,
    accounts,
    metrics,
    store,
    tokens,
    simulator,
    listen: () => app.listen({ port: config.server.port, host: config.server.host }),
    async close() {
      // Fastify stops accepting, then waits for in-flight requests (then Apollo stops); the caller bounds the wait.
      closing = true;
      readiness.close();
      await tokens?.close();
      const closed = app.close();
      connections.dropUnanswered();
      await closed;
      await Promise.all(accounts.list().map((account) => account.refreshAhead?.close()));
      await replicas?.link.close();
      await store?.close();
      crmRedis?.close();
      await simulator?.close();
      failures.flush();
      await telemetry.shutdown();
    },
  };
}
