import type { ApolloServerPlugin } from '@apollo/server';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { GatewayContext } from '../schema/context.js';
import type { FrontAnswer, FrontRead } from './front.js';
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

/** Headers written for each answer, or by Node: never stored with one. */
const PER_ANSWER = new Set(['cache-control', 'content-length', 'connection', 'keep-alive', 'date', 'transfer-encoding']);

/**
 * Bodies seen once (a doorkeeper, as in TinyLFU): the hot path keeps an answer on its body's second
 * sighting, so a stream of one-off bodies (pages of people, every one distinct) costs no copies,
 * stores or evictions. Fixed size: 2^23 bits (1 MiB), two per key, cleared after 2^18 keys: at most
 * 6 % of the bits are set, so under 0.4 % of first sightings pass for second ones. (A looser filter
 * let enough one-off answers in to fill the hot path slowly for minutes: RSS crept in the soak.)
 */
export class Doorkeeper {
  private readonly bits = new Int32Array(1 << 18);
  private added = 0;

  /** True when `key` was (probably) seen since the last clearing; remembers it otherwise. */
  seenBefore(key: string): boolean {
    // FNV-1a over the key's characters (one byte each: latin1), and a second index from a remix of it.
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    const first = hash >>> 9;
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) >>> 9;
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
  clock: Clock;
  /** What the front read of a request handed on to Fastify (its key). */
  readOf: (req: IncomingMessage) => FrontRead | undefined;
  onHit: (accountId: string) => void;
  /** Shared with the response cache: an answer is served only while none of its people changed. */
  changes: RecentChanges;
}

/**
 * The hot path: a GraphQL POST whose exact body (same account, same `Accept` and `Content-Type`,
 * same operation, variables and selection, byte for byte) was answered fresh and cacheable is
 * answered again from its stored bytes by the front, before Fastify and Apollo see it, for as long
 * as that answer's `max-age` — the same lifetime as Apollo's whole-response cache entry — or until
 * one of the people it shows changes (RecentChanges). An answer is kept from its body's second
 * sighting on (Doorkeeper).
 */
export class HotPath {
  private readonly entries: LRUCache<string, HotEntry>;
  private readonly doorkeeper = new Doorkeeper();
  /** The people each request handed on to Fastify showed (filled by Apollo's context or the warm path). */
  private readonly shown = new WeakMap<IncomingMessage, GatewayContext['shown']>();

  constructor(private readonly options: HotPathOptions) {
    this.entries = new LRUCache<string, HotEntry>({
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) =>
        key.length + entry.payload.length + entry.headers.reduce((bytes, text) => bytes + text.length, 0) + ENTRY_OVERHEAD + entry.shown.size * PERSON_OVERHEAD,
    });
  }

  /** The front's answerer: the stored answer to these exact bytes, while fresh and unchanged. */
  answer(read: FrontRead): FrontAnswer | undefined {
    const entry = this.entries.get(read.key);
    if (!entry) return undefined;
    const leftMs = this.options.changes.changedSince(entry.account, entry.shown) ? 0 : entry.expiresAt - this.options.clock.now();
    if (leftMs <= 0) {
      this.entries.delete(read.key);
      return undefined;
    }
    this.options.onHit(read.account.id);
    return { payload: entry.payload, headers: entry.headers, maxAgeSeconds: Math.floor(leftMs / 1000) };
  }

  /**
   * Keeps the answer to `read` (from its body's second sighting on), fresh for `maxAgeSeconds`
   * counted from the request's arrival: the answer's max-age was rounded down when it was computed,
   * after that, so the entry never outlives the answer's people (counted from the time it is stored,
   * a slow request's entry would).
   */
  keep(read: FrontRead, payload: string | Buffer, headers: string[], maxAgeSeconds: number, shown: GatewayContext['shown']): void {
    if (!this.doorkeeper.seenBefore(read.key)) return;
    const expiresAt = read.arrivedAt + maxAgeSeconds * 1000;
    if (expiresAt <= this.options.clock.now()) return;
    this.entries.set(read.key, { payload: ownCopy(payload), headers, expiresAt, account: read.account.id, shown });
  }

  /** Keeps fresh answers Fastify sends to requests the front read. */
  register(app: FastifyInstance): void {
    app.addHook('onSend', (request, reply, payload, done) => {
      const shown = this.shown.get(request.raw);
      const read = shown && this.options.readOf(request.raw);
      // Registered after `registerHttpCaching`: refusals and errors already say no-store here.
      const fresh = read && reply.statusCode === 200 ? FRESH_FOR.exec(String(reply.getHeader('cache-control'))) : null;
      if (read && fresh && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
        const headers: string[] = [];
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (!PER_ANSWER.has(name) && value !== undefined) headers.push(name, String(value));
        }
        if (!reply.hasHeader('content-type')) headers.push('content-type', 'application/json; charset=utf-8');
        this.keep(read, payload, headers, Number(fresh[1]), shown);
      }
      done(null, payload);
    });
  }

  /**
   * Apollo's context (or the warm path) for a request the front read and handed on: what its
   * operation loads decides what drops its answer. True when the hot path keeps that answer (a
   * single operation).
   */
  track(request: FastifyRequest, shown: GatewayContext['shown']): boolean {
    const single = request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body);
    if (!single || !this.options.readOf(request.raw)) return false;
    this.shown.set(request.raw, shown);
    return true;
  }
}

/**
 * The bytes in a buffer of their own: a small `Buffer.from` is a slice of Node's shared 8 KiB pool,
 * and a kept slice would hold its whole slab, uncounted by HOT_PATH_MAX_BYTES.
 */
function ownCopy(payload: string | Buffer): Buffer {
  const bytes = Buffer.allocUnsafeSlow(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length);
  if (typeof payload === 'string') bytes.write(payload);
  else payload.copy(bytes);
  return bytes;
}
