import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { AccountProfiles } from '../profiles/account.js';
import { compileQuery, type CompiledQuery, type CompileOptions, type RunContext } from '../schema/compiled-query.js';
import { traceWarmOperation } from '../telemetry.js';
import type { HotPath } from './hot-path.js';
import type { RecentChanges } from './people.js';

/** Bytes a compiled query costs per character of its text (the kept AST nodes), and besides it. */
const PLAN_BYTES_PER_CHAR = 8;
const ENTRY_OVERHEAD = 400;
/** A request body the warm path reads: anything else (extensions, persisted queries…) goes to Apollo. */
const BODY_KEYS = new Set(['query', 'variables', 'operationName']);

export interface WarmPathOptions {
  /** WARM_PATH_MAX_BYTES: compiled queries, and texts known not to compile, together. */
  maxBytes: number;
  schema: GraphQLSchema;
  compile: CompileOptions;
  /** The same check Apollo's context runs; throws when the request may not read any account. */
  authorize: (request: FastifyRequest) => AccountProfiles;
  /** What the compiled query's resolvers read of the request's context. */
  context: (account: AccountProfiles) => RunContext;
  /** Counted as Apollo's plugins would count an answer that missed the whole-response cache. */
  onAnswer: (accountId: string) => void;
  /** Told whom an answer shows, to keep it (the warm path runs after the hot path missed). */
  hotPath: HotPath | undefined;
  changes: RecentChanges;
}

/**
 * The warm path: a GraphQL POST whose query is a plain profile read (`CompiledQuery`) and whose
 * people the cache holds fresh in memory is answered without Apollo's pipeline — the same bytes and
 * headers, built by the same resolvers and serialisers. Whatever it cannot answer exactly like Apollo
 * (errors, misses, stale profiles, fragments, directives, other fields, `Accept` other than JSON)
 * continues to Apollo untouched. Each distinct query text is compiled once (bounded by bytes).
 */
export class WarmPath {
  private readonly compiled: LRUCache<string, CompiledQuery | false>;

  constructor(private readonly options: WarmPathOptions) {
    this.compiled = new LRUCache<string, CompiledQuery | false>({
      maxSize: options.maxBytes,
      sizeCalculation: (plan, key) => key.length * 2 + ENTRY_OVERHEAD + (plan ? key.length * PLAN_BYTES_PER_CHAR : 0),
    });
  }

  /** Registered after the hot path: its hit has answered already, its miss is tracked here. */
  register(app: FastifyInstance): void {
    app.addHook('preHandler', (request, reply, done) => {
      if (!this.answer(request, reply)) done();
    });
  }

  private answer(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (request.routeOptions.url !== '/graphql' || request.method !== 'POST') return undefined;
    // Apollo picks the answer's media type from Accept: JSON is the one answered here.
    const accept = request.headers.accept;
    if (accept !== undefined && accept !== '*/*' && accept !== 'application/json') return undefined;
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
    const body = request.body as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    for (const key in body) if (!BODY_KEYS.has(key)) return undefined;
    const { query, operationName } = body;
    if (typeof query !== 'string' || (operationName !== undefined && operationName !== null && typeof operationName !== 'string')) return undefined;

    let account: AccountProfiles;
    try {
      account = this.options.authorize(request);
    } catch {
      return undefined; // Apollo gives the refusal its proper shape
    }
    if (!account.peekFresh) return undefined;
    const plan = this.planFor(query, operationName ?? undefined);
    const answer = plan ? plan.run(body.variables, this.options.context(account)) : undefined;
    if (!answer || !plan) return undefined;

    const readAt = this.options.changes.now();
    this.options.hotPath?.track(request, new Map(answer.igsids.map((igsid) => [igsid, readAt])));
    this.options.onAnswer(account.id);
    traceWarmOperation(operationName ?? undefined, plan.name, account.id);
    return reply
      .code(200)
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', `private, max-age=${answer.maxAgeSeconds}`)
      .send(answer.payload);
  }

  private planFor(query: string, operationName: string | undefined): CompiledQuery | undefined {
    const key = `${operationName ?? ''}\n${query}`;
    let plan = this.compiled.get(key);
    if (plan === undefined) {
      plan = compileQuery(this.options.schema, query, operationName, this.options.compile) ?? false;
      this.compiled.set(key, plan);
    }
    return plan || undefined;
  }
}
