import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AccountRegistry } from '../accounts.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from '../telemetry.js';
import type { Metrics } from '../metrics.js';
import type { CacheStore } from '../profiles/cache-store.js';
import { WebhookDedupe } from '../webhooks/dedupe.js';
import { parseDelivery } from '../webhooks/delivery.js';
import { PrefetchQueue } from '../webhooks/prefetch.js';
import { processDelivery } from '../webhooks/processor.js';
import { checkSignature, secretsEqual } from '../webhooks/signature.js';

export const WEBHOOK_PATH = '/webhooks/instagram';

/** Accepted deliveries still being processed; past this, new ones get 503 and Meta redelivers them later. */
export const MAX_DELIVERIES_IN_PROCESS = 64;

export interface WebhookDeps {
  /** Only the groups it reads. */
  config: Pick<Config, 'webhook' | 'instagram' | 'accounts' | 'cache'>;
  accounts: AccountRegistry;
  metrics: Metrics;
  store: CacheStore | undefined;
  logger: Logger;
  /** Judges webhook timestamps (one far in the future is ignored); the system clock by default. */
  clock?: Clock;
  /** Processing a delivery is a trace of its own (src/telemetry.ts). */
  telemetry?: Pick<Telemetry, 'background'>;
}

/**
 * `GET /webhooks/instagram` (Meta's verification handshake) and `POST /webhooks/instagram`
 * (signed messaging deliveries: checked, acknowledged at once, processed afterwards). In a plugin
 * scope of its own, so its raw-body parser never touches `/graphql`.
 */
export async function registerWebhooks(app: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const { config, metrics, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const { verifyToken, maxBodyBytes, dedupeTtlMs, prefetchQueueLimit } = config.webhook;
  // Deliveries are signed by the Meta app: with an accounts file, accounts may belong to different
  // apps. A delivery may touch only the accounts of the app whose secret signed it.
  const appSecretOf = (accountId: string): string | undefined => {
    const entry = config.accounts.find((account) => account.id === accountId) ?? (config.accounts.length === 1 && !config.accounts[0]!.id ? config.accounts[0] : undefined);
    return entry ? entry.appSecret : config.instagram.appSecret;
  };
  const appSecrets = [...new Set([config.instagram.appSecret, ...config.accounts.map((account) => account.appSecret)])].filter(
    (secret): secret is string => typeof secret === 'string',
  );
  const appSecret = appSecrets[0];
  if (verifyToken && !appSecret) {
    logger.warn('INSTAGRAM_WEBHOOK_VERIFY_TOKEN is set but INSTAGRAM_APP_SECRET is not: webhook deliveries cannot be verified and will be refused (503)');
  }
  const dedupe = new WebhookDedupe(deps.store, dedupeTtlMs);
  const pending = new Set<Promise<void>>();
  // One queue per served account (so at most as many as configured accounts), made on first use.
  const queues = new Map<string, PrefetchQueue>();
  const prefetchQueue = (accountId: string): PrefetchQueue | undefined => {
    const account = deps.accounts.get(accountId);
    if (!deps.store || !account) return undefined;
    let queue = queues.get(account.id);
    if (!queue) {
      queue = new PrefetchQueue(account, {
        queueLimit: prefetchQueueLimit,
        onDropped: (reason, count) => metrics.prefetchDropped.inc({ account: account.id, reason }, count),
        onFetched: (outcomes) => {
          for (const outcome of outcomes.values()) metrics.webhookPrefetches.inc({ account: account.id, result: outcome.ok ? 'ok' : outcome.failure.code });
        },
        onError: (error) => logger.error({ err: error, account: account.id }, 'webhook prefetch failed'),
      });
      queues.set(account.id, queue);
    }
    return queue;
  };

  const reject = (reply: FastifyReply, status: number, reason: string, message: string) => {
    metrics.webhookDeliveries.inc({ result: 'rejected', reason });
    return reply.code(status).send({ error: message });
  };

  await app.register(async (scope) => {
    // Every content type arrives as raw bytes: the signature covers the exact bytes Meta sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));

    scope.setErrorHandler((error: { statusCode?: number; code?: string }, _request, reply) => {
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reject(reply, 413, 'too_large', `delivery larger than WEBHOOK_MAX_BODY_BYTES (${maxBodyBytes} bytes)`);
      }
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status === 500) logger.error({ code: error.code }, 'webhook request failed');
      return reject(reply, status, 'bad_request', status === 500 ? 'internal error' : 'bad request');
    });

    // Let background work finish before the cache store closes; ids still waiting for prefetch are dropped.
    scope.addHook('onClose', async () => {
      await Promise.allSettled([...pending]);
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    });

    scope.get(WEBHOOK_PATH, async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const mode = query['hub.mode'];
      const token = query['hub.verify_token'];
      const challenge = query['hub.challenge'];
      if (!verifyToken) return reply.code(403).send({ error: 'webhook verification is not configured (INSTAGRAM_WEBHOOK_VERIFY_TOKEN is unset)' });
      if (mode !== 'subscribe' || typeof token !== 'string' || !secretsEqual(token, verifyToken)) {
        return reply.code(403).send({ error: 'verification failed' });
      }
      if (typeof challenge !== 'string' || challenge.length === 0 || challenge.length > 200) {
        return reply.code(400).send({ error: 'hub.challenge is missing or too long' });
      }
      logger.info('Instagram webhook subscription verified');
      return reply.code(200).header('content-type', 'text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(challenge);
    });

    scope.post(WEBHOOK_PATH, async (request, reply) => {
      if (!appSecret) return reject(reply, 503, 'unconfigured', 'webhook deliveries cannot be verified: INSTAGRAM_APP_SECRET is not set');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = request.headers['x-hub-signature-256'];
      const signedWith = appSecrets.find((secret) => checkSignature(raw, header, secret) === 'valid');
      if (!signedWith && checkSignature(raw, header, appSecret) === 'missing') {
        return reject(reply, 401, 'unsigned', 'X-Hub-Signature-256 header is missing');
      }
      if (!signedWith) return reject(reply, 403, 'bad_signature', 'X-Hub-Signature-256 does not match the body');
      if (pending.size >= MAX_DELIVERIES_IN_PROCESS) {
        reply.header('retry-after', '30');
        return reject(reply, 503, 'busy', `${MAX_DELIVERIES_IN_PROCESS} deliveries are still being processed: redeliver later`);
      }
      const delivery = parseDelivery(raw, clock.now());
      if (!delivery.ok) return reject(reply, 400, 'malformed', delivery.reason);
      const entries = delivery.entries.filter((entry) => {
        if (appSecretOf(entry.accountId) === signedWith) return true;
        for (const event of entry.events) metrics.webhookEvents.inc({ account: deps.accounts.get(entry.accountId)?.id ?? 'unknown', type: event.type, result: 'other_app' });
        logger.warn({ account: entry.accountId }, 'webhook entry for an account of another Meta app skipped');
        return false;
      });

      metrics.webhookDeliveries.inc({ result: 'accepted' });
      // Acknowledge now (Meta wants 200 within seconds); the cache and Meta are consulted after.
      const run = () =>
        processDelivery(entries, {
          accounts: deps.accounts,
          dedupe,
          keyPrefix: config.cache.keyPrefix,
          prefetchQueue,
          metrics,
          logger,
        });
      const work = (deps.telemetry ? deps.telemetry.background('webhook.process', { 'webhook.entries.count': entries.length }, run) : run())
        .catch((error: unknown) => logger.error({ err: error }, 'webhook processing failed'))
        .finally(() => pending.delete(work));
      pending.add(work);
      return reply.code(200).send({ status: 'accepted' });
    });
  });
}
