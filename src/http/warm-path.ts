import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { AccountProfiles } from '../profiles/account.js';
import type { ProfileOutcome } from '../graph/outcomes.js';
import type { GraphField, GraphProfile } from '../graph/profile.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from '../profiles/source.js';
import { compileQuery, type CompiledAnswer, type CompiledQuery, type CompileOptions, type Reads, type RunContext } from '../schema/compiled-query.js';
import { traceWarmOperation, tracingOn } from '../telemetry.js';
import { nestingDepth } from './answers.js';
import type { FrontAnswer, FrontRead } from './front.js';
import type { HotPath } from './hot-path.js';
import type { RecentChanges } from './people.js';

/** Bytes a compiled query costs per character of its text (the kept AST nodes), and besides it. */
const PLAN_BYTES_PER_CHAR = 8;
const ENTRY_OVERHEAD = 400;
/** A request body the warm path reads: anything else (extensions, persisted queries…) goes to Apollo. */
const BODY_KEYS = new Set(['query', 'variables', 'operationName']);

interface Start {
  plan: CompiledQuery;
  account: AccountProfiles;
  reads: Reads;
  context: RunContext;
}

/** Outcomes the warm path loaded for a request it then left to Apollo. */
export interface Preloaded {
  fields: readonly GraphField[];
  outcomes: Map<string, ProfileOutcome>;
  /** The change epoch (RecentChanges) when they were read. */
  readAt: number;
}

/**
 * `source`, answering from `preloaded` the ids it holds when they were loaded for these fields or
 * more (the loader may split a request's ids into groups that each need fewer).
 */
export function withPreloaded(source: ProfileSource, preloaded: Preloaded | undefined): ProfileSource {
  if (!preloaded) return source;
  return {
    async load(ids, fields) {
      if (!fields.every((field) => preloaded.fields.includes(field))) return source.load(ids, fields);
      const outcomes = new Map<string, ProfileOutcome>();
      const missing: string[] = [];
      for (const igsid of ids) {
        const outcome = preloaded.outcomes.get(igsid);
        if (outcome) outcomes.set(igsid, outcome);
        else missing.push(igsid);
      }
      if (missing.length) for (const [igsid, outcome] of await source.load(missing, fields)) outcomes.set(igsid, outcome);
      return outcomes;
    },
  };
}

export interface WarmPathOptions {
  /** WARM_PATH_MAX_BYTES: compiled queries, and texts known not to compile, together. */
  maxBytes: number;
  schema: GraphQLSchema;
  compile: CompileOptions;
  /** The account the headers may read, as Apollo's context would decide; undefined when it would refuse. */
  authorize: (headers: IncomingHttpHeaders) => AccountProfiles | undefined;
  /** What the compiled query's resolvers read of the request's context. */
  context: (account: AccountProfiles) => RunContext;
  /** MAX_IDS_PER_QUERY */
  maxIdsPerQuery: number;
  /** Counted as Apollo's plugins would count an answer that missed the whole-response cache. */
  onAnswer: (accountId: string) => void;
  /** Told whom an answer shows, to keep it (the warm path runs after the hot path missed). */
  hotPath: HotPath | undefined;
  changes: RecentChanges;
  /** The headers of a fresh answer besides `Cache-Control` and `Content-Length`, as Fastify's hooks set them. */
  answerHeaders: readonly string[];
  /** MAX_RESPONSE_BYTES and MAX_VARIABLES_DEPTH: past them, Fastify and Apollo answer with the refusal. */
  maxResponseBytes: number;
  variablesDepth: number;
}

/**
 * The warm path: a GraphQL POST whose query is a plain profile read (`CompiledQuery`) is answered
 * without Apollo's pipeline — the same bytes and headers, built by the same resolvers and
 * serialisers — at once when its people are fresh in memory, after loading them through the cache
 * otherwise. Whatever it cannot answer exactly like Apollo (errors, refusals, stale profiles,
 * fragments, directives, other fields, `Accept` other than JSON) continues to Apollo, with what was
 * loaded. Each distinct query text is compiled once (bounded by bytes).
 */
export class WarmPath {
  private readonly compiled: LRUCache<string, CompiledQuery | false>;
  /** Outcomes loaded for requests handed on to Apollo (see `preloaded`). */
  private readonly loaded = new WeakMap<FastifyRequest, Preloaded>();

  constructor(private readonly options: WarmPathOptions) {
    this.compiled = new LRUCache<string, CompiledQuery | false>({
      maxSize: options.maxBytes,
      sizeCalculation: (plan, key) => key.length * 2 + ENTRY_OVERHEAD + (plan ? key.length * PLAN_BYTES_PER_CHAR : 0),
    });
  }

  /** Registered after the hot path: its hit has answered already, its miss is tracked here. */
  register(app: FastifyInstance): void {
    app.addHook('preHandler', (request, reply, done) => {
      const start = this.start(request);
      if (!start) return done();
      const { plan, account, reads, context } = start;
      // Every person fresh in memory: answered now, without waiting for anything.
      const profiles = account.peekFresh?.(reads.distinct, plan.fields);
      if (profiles) {
        const answer = traceWarmOperation(plan.operationName, plan.name, account.id, () => plan.answer(reads, profiles, context));
        return answer ? this.send(request, reply, account, answer, this.options.changes.now()) : done();
      }
      this.loadAndAnswer(request, reply, start).then(
        (sent) => sent || done(),
        (error: unknown) => done(error as Error),
      );
    });
  }

  /**
   * The front's answerer: a request read before Fastify, answered when everyone is fresh in memory
   * (the common warm case) without Fastify's request, hooks and parser. Anything else is left to
   * the preHandler below, through Fastify. Off while tracing: a traced answer's operation span
   * nests in its request's, which only Fastify's hook opens before the answer is known.
   */
  answerNow(read: FrontRead): FrontAnswer | undefined {
    if (tracingOn() || !acceptsJson(read.headers.accept)) return undefined;
    const text = read.body.toString('utf8');
    // Fastify's parser drops `__proto__` and `constructor.prototype` keys: such a body is left to it.
    if (text.includes('__proto__') || text.includes('constructor')) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return undefined; // Fastify refuses it
    }
    const start = this.startFor(read.account, body);
    if (!start || nestingDepth((body as { variables?: unknown }).variables, this.options.variablesDepth) > this.options.variablesDepth) return undefined;
    const { plan, account, reads, context } = start;
    const profiles = account.peekFresh?.(reads.distinct, plan.fields);
    const answer = profiles && plan.answer(reads, profiles, context);
    // Encoded once: measured here, sent and kept as these bytes.
    const payload = answer && Buffer.from(answer.payload);
    if (!answer || !payload || payload.length > this.options.maxResponseBytes) return undefined;
    const readAt = this.options.changes.now();
    const headers = this.options.answerHeaders;
    this.options.hotPath?.keep(read, payload, [...headers], answer.maxAgeSeconds, new Map(answer.igsids.map((igsid) => [igsid, readAt])));
    this.options.onAnswer(account.id);
    return { payload, headers, maxAgeSeconds: answer.maxAgeSeconds };
  }

  /**
   * What a request that Apollo did not answer yet loaded here (its outcomes, for these fields, read
   * at `readAt`): its operation reads them from this instead of asking the cache or Meta again.
   */
  preloaded(request: FastifyRequest): Preloaded | undefined {
    return this.loaded.get(request);
  }

  /** The plan, account and ids of a request the warm path may answer; undefined to leave it to Apollo. */
  private start(request: FastifyRequest): Start | undefined {
    if (request.routeOptions.url !== '/graphql' || request.method !== 'POST') return undefined;
    if (!acceptsJson(request.headers.accept)) return undefined;
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
    const account = this.options.authorize(request.headers);
    if (!account) return undefined; // Apollo gives the refusal its proper shape
    return this.startFor(account, request.body);
  }

  /** The plan and ids of a parsed body the warm path may answer for `account`. */
  private startFor(account: AccountProfiles, body: unknown): Start | undefined {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    for (const key in body) if (!BODY_KEYS.has(key)) return undefined;
    const { query, operationName, variables } = body as Record<string, unknown>;
    if (typeof query !== 'string' || (operationName !== undefined && operationName !== null && typeof operationName !== 'string')) return undefined;
    const plan = this.planFor(query, operationName ?? undefined);
    const reads = plan?.reads(variables, this.options.maxIdsPerQuery);
    if (!plan || !reads) return undefined;
    return { plan, account, reads, context: this.options.context(account) };
  }

  /**
   * Someone is not fresh in memory: loads everyone through the account's cache exactly as the
   * operation's loader would (groups of ≤ 50, the same fields), then answers if all came back plain
   * and fresh. Otherwise (a refusal, a failure, a stale or mistyped profile) Apollo answers, from
   * these outcomes: nothing is read twice.
   */
  private async loadAndAnswer(request: FastifyRequest, reply: FastifyReply, { plan, account, reads, context }: Start): Promise<boolean> {
    const outcomes = await traceWarmOperation(plan.operationName, plan.name, account.id, async () => {
      const groups: Array<Promise<Map<string, ProfileOutcome>>> = [];
      for (let i = 0; i < reads.distinct.length; i += MAX_IDS_PER_ROUND_TRIP) groups.push(account.source.load(reads.distinct.slice(i, i + MAX_IDS_PER_ROUND_TRIP), plan.fields));
      return new Map((await Promise.all(groups)).flatMap((group) => [...group]));
    });
    const readAt = this.options.changes.now();
    const profiles: GraphProfile[] = [];
    for (const igsid of reads.distinct) {
      const outcome = outcomes.get(igsid);
      if (!outcome?.ok || outcome.stale || outcome.invalid) break;
      profiles.push(outcome.profile);
    }
    const answer = profiles.length === reads.distinct.length ? plan.answer(reads, profiles, context) : undefined;
    if (answer) {
      this.send(request, reply, account, answer, readAt);
      return true;
    }
    this.loaded.set(request, { fields: plan.fields, outcomes, readAt });
    return false;
  }

  private send(request: FastifyRequest, reply: FastifyReply, account: AccountProfiles, answer: CompiledAnswer, readAt: number): void {
    this.options.hotPath?.track(request, new Map(answer.igsids.map((igsid) => [igsid, readAt])));
    this.options.onAnswer(account.id);
    reply
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

/** Apollo picks the answer's media type from `Accept`: JSON is the one answered here. */
function acceptsJson(accept: string | undefined): boolean {
  return accept === undefined || accept === '*/*' || accept === 'application/json';
}
