import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { projectRoot } from '../schema/sdl.js';
import { PLAYGROUND_EXAMPLES } from './playground-examples.js';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/**
 * Every file the page loads, from our own node_modules and `playground/`: nothing comes from a CDN,
 * so the playground works on a laptop behind a firewall. Read once, at startup.
 */
const ASSETS: Record<string, { file: string; type: string }> = {
  'react.production.min.js': { file: join(packageDir('react'), 'umd/react.production.min.js'), type: 'text/javascript' },
  'react-dom.production.min.js': { file: join(packageDir('react-dom'), 'umd/react-dom.production.min.js'), type: 'text/javascript' },
  'graphiql.min.js': { file: join(packageDir('graphiql'), 'graphiql.min.js'), type: 'text/javascript' },
  'graphiql.min.css': { file: join(packageDir('graphiql'), 'graphiql.min.css'), type: 'text/css' },
  'playground.js': { file: join(projectRoot(), 'playground/playground.js'), type: 'text/javascript' },
  'playground.css': { file: join(projectRoot(), 'playground/playground.css'), type: 'text/css' },
};

/**
 * Scripts from our own origin only (the page's config is a JSON data block, not a script).
 * GraphiQL's components inject `<style>` elements at run time, hence 'unsafe-inline' for styles;
 * its fonts are data: URIs inside graphiql.min.css.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function pageHtml(): string {
  // `<` escaped so no example text can close the data block.
  const config = JSON.stringify({ endpoint: '/graphql', tabs: PLAYGROUND_EXAMPLES }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ig-profile-gateway · GraphQL playground</title>
<link rel="stylesheet" href="/playground/assets/graphiql.min.css">
<link rel="stylesheet" href="/playground/assets/playground.css">
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script type="application/json" id="playground-config">${config}</script>
<script src="/playground/assets/react.production.min.js"></script>
<script src="/playground/assets/react-dom.production.min.js"></script>
<script src="/playground/assets/graphiql.min.js"></script>
<script src="/playground/assets/playground.js"></script>
</body>
</html>
`;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer');
}

/** A browser navigating to `/graphql`: wants HTML and sends no operation. */
function isBrowserVisit(request: FastifyRequest): boolean {
  if (request.method !== 'GET') return false;
  const [path, search = ''] = request.url.split('?');
  if (path !== '/graphql' || new URLSearchParams(search).has('query')) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

/**
 * `GET /playground`: GraphiQL served entirely by the gateway, with the README's example operations
 * as tabs; also what a browser opening `/graphql` gets. Off (404) when `PLAYGROUND` is off.
 */
export function registerPlayground(app: FastifyInstance, deps: { enabled: boolean }) {
  if (!deps.enabled) return;
  const html = pageHtml();
  const assets = new Map(Object.entries(ASSETS).map(([name, asset]) => [name, { body: readFileSync(asset.file), type: asset.type }]));

  const servePage = (reply: FastifyReply) =>
    securityHeaders(reply).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);

  app.get('/playground', async (_request, reply) => servePage(reply));
  app.get<{ Params: { name: string } }>('/playground/assets/:name', async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.callNotFound();
    return securityHeaders(reply).header('content-type', `${asset.type}; charset=utf-8`).header('cache-control', 'public, max-age=3600').send(asset.body);
  });
  // Ahead of Apollo's GET handler: a browser visit gets the page, API calls go on untouched.
  app.addHook('onRequest', async (request, reply) => {
    if (isBrowserVisit(request)) return servePage(reply);
  });
}
