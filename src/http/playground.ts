import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { projectRoot } from '../schema/sdl.js';
import { PLAYGROUND_EXAMPLES } from './playground-examples.js';

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css' };

/**
 * Every file the page loads, copied into `dist/playground-assets/` by `npm run build`
 * (scripts/copy-playground-assets.mjs): nothing comes from a CDN, so the playground works behind a
 * firewall, and React and GraphiQL need not be installed in production. Read once, at startup.
 */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const folder = join(projectRoot(), 'dist', 'playground-assets');
  if (!existsSync(folder)) throw new Error(`PLAYGROUND is on but ${folder} is missing: run npm run build (or set PLAYGROUND=false)`);
  const names = readdirSync(folder).filter((name) => TYPES[extname(name)]);
  return new Map(names.map((name) => [name, { body: readFileSync(join(folder, name)), type: TYPES[extname(name)]! }]));
}

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
  const assets = loadAssets();

  const servePage = (reply: FastifyReply) =>
    securityHeaders(reply).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);

  app.get('/playground', async (_request, reply) => servePage(reply));
  app.get<{ Params: { name: string } }>('/playground/assets/:name', async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.callNotFound();
    return securityHeaders(reply).header('content-type', `${asset.type}; charset=utf-8`).header('cache-control', 'public, max-age=3600').send(asset.body);
  });
  // Ahead of Apollo's GET handler: a browser visit gets the page, API calls go on untouched.
  app.addHook('onRequest', (request, reply, done) => {
    if (isBrowserVisit(request)) return void servePage(reply);
    done();
  });
}
