import type { ApolloServerPlugin } from '@apollo/server';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { traceServerRequest } from '../telemetry.js';
import type { AccountProfiles } from '../profiles/account.js';
import type { GatewayContext } from '../schema/context.js';
import type { RecentChanges } from './people.js';

export const NO_STORE = 'no-store';
const FRESH_FOR = /^private, max-age=(\d+)$/;
/** Bytes an entry costs besides its key and body (object, strings' headers, LRU bookkeeping), and per person shown (map slot). */
const ENTRY_OVERHEAD = 200;
const PERSON_OVERHEAD = 100;

/**
 * `Cache-Control` for every /graphql answer: `private, max-age=<seconds the whole answer stays fresh>`
 * for a query answered without errors and without stale profiles, `no-store` otherwise. Listed after
 * the response cache, whose hit sets `age`: a reused answer is fresh only for what is left.
 */
export const httpCachePolicyPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue, operation, overallCachePolicy }) {
        const policy = overallCachePolicy.policyIfCacheable();
        const single = response.body.kind === 'single' ? response.body.singleResult : undefined;
        const age = Number(response.http.headers.get('age') ?? 0);
        const fresh = policy ? policy.maxAge - age : 0;
        const cacheable = single && !single.errors && single.data && contextValue.staleProfiles.length === 0 && operation?.operation === 'query' && fresh > 0;
        response.http.headers.set('cache-control', cacheable ? `private, max-age=${fresh}` : NO_STORE);
      },
    };
  },
};

interface HotEntry {
  payload: Buffer;
  /** The answer's headers as a flat name, value list, without those written per answer. */
  headers: string[];
  expiresAt: number;
  account: string;
  /** The people the answer shows, each with the change epoch it was read at (RecentChanges). */
  shown: GatewayContext['shown'];
}

/** A request the hot path read and handed on: its key, its body, and what its operation loaded (filled by Apollo's context). */
interface Pending {
  key: string;
  account: string;
  /** Given to Fastify's body parser once (the hot path consumed the request stream), then dropped. */
  body: Buffer | undefined;
  shown?: GatewayContext['shown'];
}

/** Headers written for each answer, or by Node: never stored with one. */
const PER_ANSWER = new Set(['cache-control', 'content-length', 'connection', 'keep-alive', 'date', 'transfer-encoding']);

/**
 * Bodies seen once (a doorkeeper, as in TinyLFU): the hot path keeps an answer on its body's second
 * sighting, so a stream of one-off bodies (pages of people, every one distinct) costs no copies,
 * stores or evictions. Fixed size: 2^21 bits (256 KiB), two per key, cleared after 2^18 keys (a
 * quarter of the bits set at most, so about 6 % of first sightings pass for second ones: harmless).
 */
export class Doorkeeper {
  private readonly bits = new Int32Array(1 << 16);
  private added = 0;

  /** True when `key` was (probably) seen since the last clearing; remembers it otherwise. */
  seenBefore(key: string): boolean {
    // FNV-1a over the key's characters (one byte each: latin1), and a second index from a remix of it.
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    const first = hash >>> 11;
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) >>> 11;
    const seen = this.has(first) && this.has(second);
    if (!seen) {
      if (++this.added > 1 << 18) {
        this.bits.fill(0);
        this.added = 1;
      }
      this.set(first);
      this.set(second);
    }
    return seen;
  }

  private has(bit: number): boolean {
    return (this.bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private set(bit: number): void {
    this.bits[bit >>> 5]! |= 1 << (bit & 31);
  }
}

export interface HotPathOptions {
  /** HOT_PATH_MAX_BYTES: keys, bodies and index together. */
  maxBytes: number;
  /** MAX_BODY_BYTES: a longer body is left to Fastify, which refuses it. */
  maxBodyBytes: number;
  clock: Clock;
  /** The account the headers may read, as Apollo's context would decide; undefined when it would refuse. */
  authorize: (headers: IncomingHttpHeaders) => AccountProfiles | undefined;
  onHit: (accountId: string) => void;
  /** Shared with the response cache: an answer is served only while none of its people changed. */
  changes: RecentChanges;
  /** The access log line of an answer sent here (Fastify writes the others). */
  logger: Logger;
  accessLog: boolean;
}

/**
 * The hot path: a GraphQL POST whose exact body (same account, same `Accept` and `Content-Type`,
 * same operation, variables and selection, byte for byte) was answered fresh and cacheable is
 * answered again from its stored bytes by the HTTP server itself, before Fastify and Apollo see it,
 * for as long as that answer's `max-age` — the same lifetime as Apollo's whole-response cache entry —
 * or until one of the people it shows changes (RecentChanges). An answer is kept from its body's
 * second sighting on (Doorkeeper). The request is authorised first, as
 * Apollo's context would; anything it refuses, and every miss, goes on to Fastify with its body.
 */
export class HotPath {
  private readonly entries: LRUCache<string, HotEntry>;
  /** Requests read here and handed on: their body for Fastify, their key to store their answer in `onSend`. */
  private readonly pending = new WeakMap<IncomingMessage, Pending>();
  private readonly doorkeeper = new Doorkeeper();

  constructor(private readonly options: HotPathOptions) {
    this.entries = new LRUCache<string, HotEntry>({
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) =>
        key.length + entry.payload.length + entry.headers.reduce((bytes, text) => bytes + text.length, 0) + ENTRY_OVERHEAD + entry.shown.size * PERSON_OVERHEAD,
    });
  }

  /**
   * The HTTP server's first look at a request: a hot hit is answered here; anything else goes on to
   * Fastify (`next`). Only a whole JSON body of a stated, allowed length, from a request the
   * authoriser accepts, is read; then Fastify parses the bytes read here (`register`).
   */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    if (req.method !== 'POST' || req.url !== '/graphql') return next();
    const headers = req.headers;
    const type = headers['content-type'];
    const length = Number(headers['content-length']);
    if (type === undefined || !type.startsWith('application/json') || !(length > 0 && length <= this.options.maxBodyBytes)) return next();
    if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return next();
    const account = this.options.authorize(headers);
    if (!account) return next();
    const started = performance.now();
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onEnd = () => {
      req.removeListener('data', onData);
      req.removeListener('error', onError);
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      // latin1: one character per byte, so the key is the exact bytes.
      const key = `${account.id}\n${headers.accept ?? ''}\n${type}\n${body.toString('latin1')}`;
      if (this.answer(key, account.id, req, res, started)) return;
      this.pending.set(req, { key, account: account.id, body });
      next();
    };
    // The client went away mid-body: there is no one to answer.
    const onError = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  }

  register(app: FastifyInstance): void {
    // The body the hot path read, for Fastify's parser (and its MAX_BODY_BYTES and length checks).
    app.addHook('preParsing', (request, _reply, payload, done) => {
      const pending = this.pending.get(request.raw);
      const body = pending?.body;
      if (!pending || !body) return done(null, payload);
      pending.body = undefined;
      const stream = new Readable({ read() {} });
      stream.push(body);
      stream.push(null);
      done(null, stream);
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      const pending = this.pending.get(request.raw);
      // Registered after `registerHttpCaching`: refusals and errors already say no-store here.
      const fresh = reply.statusCode === 200 ? FRESH_FOR.exec(String(reply.getHeader('cache-control'))) : null;
      if (pending?.shown && fresh && (typeof payload === 'string' || Buffer.isBuffer(payload)) && this.doorkeeper.seenBefore(pending.key)) {
        const headers: string[] = [];
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (!PER_ANSWER.has(name) && value !== undefined) headers.push(name, String(value));
        }
        if (!reply.hasHeader('content-type')) headers.push('content-type', 'application/json; charset=utf-8');
        const expiresAt = this.options.clock.now() + Number(fresh[1]) * 1000;
        this.entries.set(pending.key, { payload: Buffer.from(payload), headers, expiresAt, account: pending.account, shown: pending.shown });
      }
      done(null, payload);
    });
  }

  /**
   * Apollo's context (or the warm path) for a request that missed: what its operation loads decides
   * what drops its answer. True when the hot path keeps that answer (a single operation).
   */
  track(request: FastifyRequest, shown: GatewayContext['shown']): boolean {
    const pending = this.pending.get(request.raw);
    const single = request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body);
    if (pending && single) pending.shown = shown;
    return pending !== undefined && single;
  }

  private answer(key: string, accountId: string, req: IncomingMessage, res: ServerResponse, started: number): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    const leftMs = this.options.changes.changedSince(entry.account, entry.shown) ? 0 : entry.expiresAt - this.options.clock.now();
    if (leftMs <= 0) {
      this.entries.delete(key);
      return false;
    }
    const traced = traceServerRequest('POST', '/graphql', '/graphql', req.headers);
    this.options.onHit(accountId);
    res.writeHead(200, [...entry.headers, 'cache-control', `private, max-age=${Math.floor(leftMs / 1000)}`, 'content-length', String(entry.payload.length)]);
    res.end(entry.payload);
    traced(200);
    const level = this.options.accessLog ? 'info' : 'debug';
    const { logger } = this.options;
    if (logger.isLevelEnabled(level)) logger[level]({ method: 'POST', path: '/graphql', status: 200, ms: Math.round(performance.now() - started) }, 'request served');
    return true;
  }
}
