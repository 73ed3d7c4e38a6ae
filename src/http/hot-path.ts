import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
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
  payload: string | Buffer;
  contentType: string;
  expiresAt: number;
  account: string;
  /** The people the answer shows, each with the change epoch it was read at (RecentChanges). */
  shown: GatewayContext['shown'];
}

/** A request that missed: its key, and what its operation loaded (filled by Apollo's context). */
interface Pending {
  key: string;
  account: string;
  shown?: GatewayContext['shown'];
}

export interface HotPathOptions {
  /** HOT_PATH_MAX_BYTES: keys, bodies and index together. */
  maxBytes: number;
  clock: Clock;
  /** The same check Apollo's context runs; throws when the request may not read any account. */
  authorize: (request: FastifyRequest) => AccountProfiles;
  onHit: (accountId: string) => void;
  /** Shared with the response cache: an answer is served only while none of its people changed. */
  changes: RecentChanges;
}

/**
 * The hot path: a GraphQL POST whose exact body (same account, same `Accept`, same operation,
 * variables and selection) was answered fresh and cacheable is answered again from its stored bytes
 * before Apollo's pipeline runs, for as long as that answer's `max-age` — the same lifetime as
 * Apollo's whole-response cache entry — or until one of the people it shows changes (RecentChanges).
 * The request is authorised first, as Apollo's context would; anything it refuses goes through the
 * pipeline for the proper error.
 */
export class HotPath {
  private readonly entries: LRUCache<string, HotEntry>;
  /** Requests that missed, to store their answer in `onSend`. */
  private readonly pending = new WeakMap<FastifyRequest, Pending>();

  constructor(private readonly options: HotPathOptions) {
    this.entries = new LRUCache<string, HotEntry>({
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => key.length * 2 + Buffer.byteLength(entry.payload) + ENTRY_OVERHEAD + entry.shown.size * PERSON_OVERHEAD,
    });
  }

  register(app: FastifyInstance): void {
    app.addHook('preHandler', (request, reply, done) => {
      if (!this.answer(request, reply)) done();
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      const pending = this.pending.get(request);
      // Registered after `registerHttpCaching`: refusals and errors already say no-store here.
      const fresh = reply.statusCode === 200 ? FRESH_FOR.exec(String(reply.getHeader('cache-control'))) : null;
      if (pending?.shown && fresh && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
        const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
        const expiresAt = this.options.clock.now() + Number(fresh[1]) * 1000;
        this.entries.set(pending.key, { payload, contentType, expiresAt, account: pending.account, shown: pending.shown });
      }
      done(null, payload);
    });
  }

  /**
   * Apollo's context for a request that missed: what its operation loads decides what drops its
   * answer. True when the hot path keeps that answer (a single JSON POST).
   */
  track(request: FastifyRequest, shown: GatewayContext['shown']): boolean {
    const pending = this.pending.get(request);
    if (pending) pending.shown = shown;
    return pending !== undefined;
  }

  private answer(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (request.routeOptions.url !== '/graphql' || request.method !== 'POST') return undefined;
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
    let account: AccountProfiles;
    try {
      account = this.options.authorize(request);
    } catch {
      return undefined;
    }
    let key: string;
    try {
      key = `${account.id}\n${request.headers.accept ?? ''}\n${JSON.stringify(body)}`;
    } catch {
      return undefined; // nested too deep to serialise: not worth a key
    }
    const entry = this.entries.get(key);
    const leftMs = entry && !this.options.changes.changedSince(entry.account, entry.shown) ? entry.expiresAt - this.options.clock.now() : 0;
    if (!entry || leftMs <= 0) {
      if (entry) this.entries.delete(key);
      this.pending.set(request, { key, account: account.id });
      return undefined;
    }
    this.options.onHit(account.id);
    return reply.code(200).header('content-type', entry.contentType).header('cache-control', `private, max-age=${Math.floor(leftMs / 1000)}`).send(entry.payload);
  }
}
