import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { AccountRegistry } from '../accounts.js';
import { AvatarLinks, type AccountSecrets } from '../avatars/links.js';
import { AvatarMetrics } from '../avatars/metrics.js';
import { AvatarService, PLACEHOLDER_TTL_MS, type AvatarReplicas } from '../avatars/service.js';
import { AvatarStore } from '../avatars/store.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { CacheStore } from '../profiles/cache-store.js';

/** Browsers may keep a picture this long at most, even when Meta's URL lives longer. */
const MAX_AGE_CAP_SECONDS = 86_400;

export interface AvatarDeps {
  /** Only the groups it reads. */
  config: Pick<Config, 'avatars' | 'server' | 'instagram' | 'cache'>;
  accounts: AccountRegistry;
  /** Each served account's id and credentials (signing keys derive from them when AVATAR_SIGNING_KEY is unset). */
  secrets: readonly AccountSecrets[];
  /** Extra hosts to fetch from: the in-process simulator's in demo mode. */
  extraHosts?: readonly string[];
  /** The profile cache's store: its Redis layer, when configured, shares picture bytes between replicas. */
  store: CacheStore | undefined;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  /** With replicas: pictures warmed on one replica replace the others' memory copies. */
  replicas?: AvatarReplicas | undefined;
}

/**
 * `GET /avatars/<account>/<igsid>.<signature>`: the person's picture bytes (or a placeholder),
 * for a plain `<img src>`: no API key, no headers. Returns the link signer for `avatarUrl`, and the
 * service (refresh-ahead warms pictures through it).
 */
export function registerAvatars(app: FastifyInstance, deps: AvatarDeps): { links: AvatarLinks; service: AvatarService } {
  const { config, metrics, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const settings = config.avatars;
  const publicUrl = () => settings.publicUrl ?? `http://localhost:${(app.server.address() as AddressInfo | null)?.port ?? config.server.port}`;
  const links = new AvatarLinks(deps.secrets, { signingKey: settings.signingKey, appSecret: config.instagram.appSecret }, publicUrl);
  const store = new AvatarStore({
    maxBytes: settings.cacheMaxBytes,
    maxValueBytes: settings.maxBytes,
    shared: deps.store,
    clock,
  });
  const avatarMetrics = new AvatarMetrics(metrics, () => store.memoryBytes());
  const service = new AvatarService({
    store,
    cdn: { allowedHosts: [...settings.allowedHosts, ...(deps.extraHosts ?? [])], maxBytes: settings.maxBytes, timeoutMs: settings.fetchTimeoutMs },
    keyPrefix: config.cache.keyPrefix,
    maxConcurrent: settings.maxConcurrentFetches,
    warmConcurrency: settings.warmConcurrency,
    refreshHorizonMs: config.cache.ttlMs,
    fallbackTtlMs: config.cache.ttlMs,
    clock,
    metrics: avatarMetrics,
    logger,
    replicas: deps.replicas,
  });
  app.addHook('onClose', async () => {
    await service.close();
    store.close();
  });

  app.get<{ Params: { account: string; file: string } }>('/avatars/:account/:file', async (request, reply) => {
    const { account: accountId, file } = request.params;
    const igsid = links.verify(accountId, file);
    const account = igsid ? deps.accounts.get(accountId) : undefined;
    // Unsigned, tampered or foreign: the same bare 404, and no upstream work.
    if (!igsid || !account) return reply.code(404).header('cache-control', 'no-store').send({ error: 'Not Found' });

    const avatar = await service.get(account, igsid);
    const validFor = Math.floor((avatar.expiresAt - clock.now()) / 1000);
    const maxAge = Math.max(0, Math.min(validFor, avatar.source === 'placeholder' ? PLACEHOLDER_TTL_MS / 1000 : MAX_AGE_CAP_SECONDS));
    reply
      .header('content-type', avatar.contentType)
      .header('etag', avatar.etag)
      .header('cache-control', `public, max-age=${maxAge}`)
      .header('x-avatar-source', avatar.source)
      .header('x-content-type-options', 'nosniff')
      // The placeholder is SVG: opened directly, it must not be able to run anything on this origin.
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    if (etagMatches(request.headers['if-none-match'], avatar.etag)) return reply.code(304).send();
    avatarMetrics.bytesServed.inc({ account: account.id, source: avatar.source }, avatar.bytes.length);
    return reply.send(avatar.bytes);
  });
  return { links, service };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .slice(0, 2048)
    .split(',')
    .some((tag) => {
      const candidate = tag.trim().replace(/^W\//, '');
      return candidate === '*' || candidate === etag;
    });
}
