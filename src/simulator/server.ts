// The HTTP front: routing, authentication (token, appsecret_proof), call log, latency, headers.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerCdn, CDN_PREFIX, type CdnAnswer } from './cdn.js';
import { answerBatch, describeBatch, MAX_BATCH, parseBatch } from './batch.js';
import { errors, traceId, type SimAnswer } from './errors.js';
import { answerRead, classifyRead, parseFields, type ReadContext } from './graph.js';
import { applyScenario, AttemptCounter } from './scenarios.js';
import { DEFAULT_BUSINESS_ID, DEFAULT_MAX_LOGGED_CALLS, type Scenario, type SimCall, type Simulator, type SimulatorOptions } from './types.js';
import { REFRESH_PATH, SimTokens } from './tokens.js';
import { usageHeaders } from './usage.js';

const MAX_BODY_BYTES = 1024 * 1024;

interface Route {
  version: string | null;
  /** Path after the version, without surrounding slashes: '' (root), 'me', '<id>', or 'a/b' (unknown). */
  objectPath: string;
}

function parseRoute(pathname: string): Route {
  const match = /^\/(v\d+\.\d+)(?:\/(.*))?$/.exec(pathname);
  const rest = match ? (match[2] ?? '') : pathname;
  let objectPath = rest.replace(/^\/+/, '').replace(/\/+$/, '');
  try {
    objectPath = decodeURIComponent(objectPath);
  } catch {
    // Keep the raw text: it is not a valid id either way.
  }
  return { version: match?.[1] ?? null, objectPath };
}

function parseUrl(raw: string | undefined): URL {
  const text = raw ?? '/';
  try {
    // Concatenate rather than resolve, so '//x' stays a path and never becomes a host.
    return new URL(text.startsWith('/') ? `http://simulator${text}` : text);
  } catch {
    return new URL('http://simulator/');
  }
}

/** Reads a POST body: form-encoded (what Meta's samples send) or JSON. Null when over the size limit. */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (/application\/json/i.test(req.headers['content-type'] ?? '')) {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function stringParam(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function proofMatches(secret: string, token: string, proof: string): boolean {
  const expected = Buffer.from(createHmac('sha256', secret).update(token).digest('hex'));
  const given = Buffer.from(proof.toLowerCase());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startServer(initial: SimulatorOptions = {}): Promise<Simulator> {
  const options: SimulatorOptions = { ...initial, scenarios: { ...initial.scenarios } };
  const calls: SimCall[] = [];
  // Every call since resetCalls(), by kind: exact even once the log has dropped old calls.
  const counted = new Map<SimCall['kind'], number>();
  const attempts = new AttemptCounter();
  const tokens = new SimTokens(options);
  const sleepers = new Set<() => void>();
  let closed = false;
  let selfUrl = '';

  /** Waits ms, but gives up at once when the simulator closes or the client goes away. */
  function sleep(ms: number, res: ServerResponse): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
      res.once('close', done);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseUrl(req.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const route = parseRoute(url.pathname);
    const query = url.searchParams;
    const call: SimCall = {
      at: Date.now(),
      method,
      path: url.pathname,
      kind: 'other',
      ids: [],
      fields: [],
      version: route.version,
      status: 0,
      token: null,
      tokenLocation: null,
      appsecretProof: null,
      businessId: null,
    };

    let form: Record<string, unknown> = {};
    if (method === 'POST' || method === 'PUT' || method === 'DELETE') {
      const body = await readBody(req);
      if (body === null) return finish(res, call, errors.bodyTooLarge(), 0, { 'Connection': 'close' });
      form = body;
    } else {
      req.resume();
    }

    // What is being asked, for the log (filled in even when the call fails).
    const isBatch = method === 'POST' && route.objectPath === '';
    if (method === 'GET') {
      Object.assign(call, classifyRead(route.objectPath, query));
      call.fields = parseFields(query) ?? [];
    }
    const batch = isBatch ? parseBatch(form.batch ?? query.get('batch') ?? undefined) : undefined;
    if (isBatch) {
      call.kind = 'batch';
      if (batch && 'parts' in batch) Object.assign(call, describeBatch(batch.parts));
    }
    if (method === 'GET' && url.pathname.startsWith(CDN_PREFIX)) return serveCdn(res, call, answerCdn(url.pathname, query, options, Date.now()));
    if (route.objectPath.includes('/')) return finish(res, call, answerRead(baseCtx(), route.objectPath, query));

    // Authentication: Bearer header, then query, then form field.
    const bearer = /^Bearer\s+(\S.*)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (bearer) [call.token, call.tokenLocation] = [bearer, 'header'];
    else if (stringParam(query.get('access_token'))) [call.token, call.tokenLocation] = [query.get('access_token'), 'query'];
    else if (stringParam(form.access_token)) [call.token, call.tokenLocation] = [form.access_token as string, 'form'];
    call.appsecretProof = stringParam(query.get('appsecret_proof')) ?? stringParam(form.appsecret_proof);

    if (call.token === null) return finish(res, call, errors.noToken());
    const businessId = options.tokens ? (Object.hasOwn(options.tokens, call.token) ? options.tokens[call.token]! : null) : DEFAULT_BUSINESS_ID;
    if (businessId === null) return finish(res, call, errors.unknownToken());
    if (tokens.isRetired(call.token)) return finish(res, call, SimTokens.retiredAnswer());
    call.businessId = businessId;
    const secret = options.appSecrets?.[businessId];
    if (secret !== undefined) {
      if (call.appsecretProof === null) return finish(res, call, errors.proofMissing());
      if (!proofMatches(secret, call.token, call.appsecretProof)) return finish(res, call, errors.proofInvalid());
    }
    const ctx: ReadContext = { businessId, options, attempts, cdnBase: options.selfCdn ? selfUrl : undefined };

    if (isBatch && batch) {
      // Refusal after authentication: a host checks the token before it looks at the method.
      if ((options.batchApi ?? 'enabled') === 'refused') return finish(res, call, errors.unsupportedPost());
      if (options.batchApi === 'bad-gateway') return finish(res, call, applyScenario({ kind: 'httpError', status: 502 }, '', attempts)!);
      if ('error' in batch) return finish(res, call, batch.error);
      if (batch.parts.length > MAX_BATCH) return finish(res, call, errors.batchTooLarge());
      const includeHeaders = String(form.include_headers ?? query.get('include_headers') ?? 'true') !== 'false';
      const { elements, delayMs } = answerBatch(ctx, batch.parts, includeHeaders);
      return finish(res, call, { status: 200, body: elements, delayMs });
    }
    if (method === 'GET' && route.objectPath === REFRESH_PATH) {
      Object.assign(call, { kind: 'other', ids: [] });
      return finish(res, call, tokens.refresh(call.token, businessId, query));
    }
    if (method === 'GET') return finish(res, call, answerRead(ctx, route.objectPath, query));
    if (method === 'POST') return finish(res, call, errors.unsupportedPost(route.objectPath));
    return finish(res, call, errors.unsupportedMethod(method));
  }

  /** Logs a call, keeping only the latest `maxLoggedCalls`. */
  function record(call: SimCall): void {
    counted.set(call.kind, (counted.get(call.kind) ?? 0) + 1);
    calls.push(call);
    const excess = calls.length - Math.max(0, options.maxLoggedCalls ?? DEFAULT_MAX_LOGGED_CALLS);
    if (excess > 0) calls.splice(0, excess);
  }

  function baseCtx(): ReadContext {
    return { businessId: DEFAULT_BUSINESS_ID, options, attempts, cdnBase: options.selfCdn ? selfUrl : undefined };
  }

  /** The fake CDN: no token, no Graph headers, no simulated latency (it is a CDN edge). */
  function serveCdn(res: ServerResponse, call: SimCall, answer: CdnAnswer): void {
    call.kind = 'cdn';
    call.status = answer.status;
    calls.push(call);
    if (closed || res.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  /** Logs the call, waits the configured latency (plus any `slow` delay), then answers. */
  async function finish(res: ServerResponse, call: SimCall, answer: SimAnswer, extraDelay?: number, extraHeaders: Record<string, string> = {}): Promise<void> {
    call.status = answer.status;
    record(call);
    await sleep((options.latencyMs ?? 0) + (extraDelay ?? answer.delayMs ?? 0), res);
    if (closed || res.destroyed || res.writableEnded) return;
    const fbtrace = (answer.body as { error?: { fbtrace_id?: string } } | null)?.error?.fbtrace_id ?? traceId();
    const headers: Record<string, string> = {
      'Content-Type': answer.raw ? 'text/html; charset=utf-8' : 'application/json; charset=UTF-8',
      'x-fb-trace-id': fbtrace,
      ...(call.version ? { 'facebook-api-version': call.version } : {}),
      ...(call.businessId ? usageHeaders(options, call.businessId, answer.throttle) : {}),
      ...answer.headers,
      ...extraHeaders,
    };
    res.writeHead(answer.status, headers);
    res.end(answer.raw ? String(answer.body) : JSON.stringify(answer.body));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // Never crash on garbage: answer a Graph-style 500 if nothing was sent yet.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(errors.internal().body));
      }
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(initial.port ?? 0, initial.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  selfUrl = `http://${host}:${address.port}`;

  return {
    url: selfUrl,
    calls,
    options,
    configure(patch) {
      Object.assign(options, patch);
      if (patch.scenarios) {
        options.scenarios = { ...patch.scenarios };
        attempts.reset();
      }
    },
    setScenario(igsid: string, scenario: Scenario | null) {
      options.scenarios ??= {};
      if (scenario) options.scenarios[igsid] = scenario;
      else delete options.scenarios[igsid];
      attempts.reset(igsid);
    },
    tokenRefreshes: tokens.refreshes,
    resetCalls() {
      calls.length = 0;
      counted.clear();
    },
    roundTrips(kind) {
      return kind ? (counted.get(kind) ?? 0) : [...counted.values()].reduce((sum, n) => sum + n, 0);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const wake of [...sleepers]) wake();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}
