import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCOUNT_HEADER } from './auth.js';
import { NO_STORE } from './hot-path.js';

const FRESH = /^private, max-age=\d+$/;
/** The request headers that pick the account an answer belongs to. */
export const VARY = `authorization, ${ACCOUNT_HEADER}, accept`;

/**
 * HTTP caching for /graphql answers, for browsers, CDNs in private mode and routers' response caches.
 * Every answer carries `Cache-Control` (set by `httpCachePolicyPlugin`; anything unmarked, a refusal or
 * an error status becomes `no-store`). A fresh answer also carries `Vary` on the headers that select the
 * account and, for GET (automatic persisted queries included), an `ETag`: a matching `If-None-Match`
 * gets 304 with no body.
 */
export function registerHttpCaching(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => done(null, httpCaching(request, reply, payload)));
}

function httpCaching(request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  if (request.routeOptions.url !== '/graphql') return payload;
  if (reply.statusCode !== 200 || !reply.hasHeader('cache-control')) reply.header('cache-control', NO_STORE);
  if (!FRESH.test(String(reply.getHeader('cache-control')))) return payload;
  reply.header('vary', VARY);
  if (request.method !== 'GET' || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
  const etag = `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
  reply.header('etag', etag);
  const asked = request.headers['if-none-match'];
  if (asked === undefined || !asked.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return payload;
  reply.code(304).removeHeader('content-type').removeHeader('content-length');
  return '';
}
