import type { FastifyInstance } from 'fastify';
import type { AccountRegistry } from '../accounts.js';
import type { Metrics } from '../metrics.js';
import type { Readiness } from '../readiness.js';

/** `/healthz`, `/readyz`, `/metrics`, and a 404 that never echoes the query string. */
export function registerOps(app: FastifyInstance, deps: { accounts: AccountRegistry; metrics: Metrics; readiness: Readiness }) {
  // Fastify's default 404 echoes the whole URL, query string (and any token in it) included.
  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return { error: 'Not Found', message: `No route ${request.method} ${request.url.split('?')[0]}` };
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { code, body } = deps.readiness.report(deps.accounts);
    return reply.code(code).send(body);
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
