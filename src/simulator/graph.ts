// Answers to reads: a single IGSID, /me, and the legacy `?ids=` multi-read. Used by plain GETs and
// by Batch API sub-requests alike, so both paths behave identically by construction.
import { errors, type SimAnswer } from './errors.js';
import { appScopedId, DEFAULT_PIC_TTL_SECONDS, PROFILE_FIELDS, simulatedProfile } from './profiles.js';
import { applyScenario, scenarioFor, type AttemptCounter } from './scenarios.js';
import type { SimProfile, SimulatorOptions } from './types.js';

export interface ReadContext {
  businessId: string;
  options: SimulatorOptions;
  attempts: AttemptCounter;
  /** The simulator's URL when its fake CDN serves the pictures. */
  cdnBase?: string | undefined;
}

export type ReadKind = 'single' | 'me' | 'ids' | 'other';

/** Default fields when a read names none (Graph answers a small default set plus id). */
const DEFAULT_USER_FIELDS = ['name', 'username'];
const DEFAULT_ME_FIELDS = ['user_id', 'username'];
const ME_FIELDS = new Set(['id', 'user_id', 'username', 'name', 'account_type', 'profile_picture_url', 'followers_count', 'follows_count', 'media_count']);
const USER_FIELDS = new Set<string>(PROFILE_FIELDS);
export const MAX_LEGACY_IDS = 50;

/** `fields=a, b,,c` -> ['a','b','c']; null when the parameter is absent. */
export function parseFields(query: URLSearchParams): string[] | null {
  const raw = query.get('fields');
  if (raw === null) return null;
  return raw.split(',').map((f) => f.trim()).filter((f) => f.length > 0);
}

export function parseIds(query: URLSearchParams): string[] {
  return (query.get('ids') ?? '').split(',').map((id) => id.trim()).filter((id) => id.length > 0);
}

/** What a read addresses, for the call log and routing. objectPath has no version and no slashes around it. */
export function classifyRead(objectPath: string, query: URLSearchParams): { kind: ReadKind; ids: string[] } {
  if (objectPath === '') return query.has('ids') ? { kind: 'ids', ids: parseIds(query) } : { kind: 'other', ids: [] };
  if (objectPath === 'me') return { kind: 'me', ids: [] };
  if (objectPath.includes('/')) return { kind: 'other', ids: [] };
  return { kind: 'single', ids: [objectPath] };
}

export function answerRead(ctx: ReadContext, objectPath: string, query: URLSearchParams): SimAnswer {
  const { kind } = classifyRead(objectPath, query);
  switch (kind) {
    case 'ids':
      return answerLegacyIds(ctx, query);
    case 'me':
      return answerMe(ctx, parseFields(query));
    case 'single':
      return answerSingle(ctx, objectPath, parseFields(query));
    case 'other':
      return objectPath === '' ? errors.unsupportedGetBare() : errors.unknownPath(`/${objectPath.split('/').slice(1).join('/')}`);
  }
}

export function profileFor(ctx: ReadContext, igsid: string): SimProfile {
  const { options, businessId } = ctx;
  return {
    ...simulatedProfile(igsid, businessId, Date.now(), options.profilePicTtlSeconds ?? DEFAULT_PIC_TTL_SECONDS, ctx.cdnBase),
    ...options.profileOverrides?.[igsid],
    ...options.profilesByBusiness?.[businessId]?.[igsid],
  };
}

function render(igsid: string, profile: SimProfile, fields: string[]): Record<string, unknown> {
  // Requested fields in request order, id last unless asked for (as Graph does).
  const out: Record<string, unknown> = {};
  for (const field of fields) out[field] = field === 'id' ? igsid : profile[field as keyof SimProfile];
  if (!('id' in out)) out.id = igsid;
  return out;
}

function badField(fields: string[], valid: Set<string>): string | undefined {
  return fields.find((field) => !valid.has(field));
}

/** Scenario outcome for one read of an IGSID: an error to answer, or the delay to add. */
function scenarioOutcome(ctx: ReadContext, igsid: string): { error?: SimAnswer; delayMs: number } {
  const scenario = scenarioFor(igsid, ctx.options.scenarios);
  const delayMs = scenario?.kind === 'slow' ? Math.max(0, scenario.ms) : 0;
  const error = applyScenario(scenario, igsid, ctx.attempts);
  return error ? { error, delayMs } : { delayMs };
}

function answerSingle(ctx: ReadContext, igsid: string, fields: string[] | null): SimAnswer {
  if (!/^\d+$/.test(igsid)) return errors.unsupportedGet(igsid);
  const { error, delayMs } = scenarioOutcome(ctx, igsid);
  if (error) return { ...error, delayMs };
  const wanted = fields ?? DEFAULT_USER_FIELDS;
  const unknown = badField(wanted, USER_FIELDS);
  if (unknown !== undefined) return { ...errors.nonexistingField(unknown), delayMs };
  return { status: 200, body: render(igsid, profileFor(ctx, igsid), wanted), delayMs };
}

function answerMe(ctx: ReadContext, fields: string[] | null): SimAnswer {
  const wanted = fields ?? DEFAULT_ME_FIELDS;
  const unknown = badField(wanted, ME_FIELDS);
  if (unknown !== undefined) return errors.nonexistingField(unknown);
  const biz = ctx.businessId;
  const values: Record<string, unknown> = {
    id: appScopedId(biz),
    user_id: biz,
    username: `sim_business_${biz.slice(-4)}`,
    name: `Simulated Business ${biz.slice(-4)}`,
    account_type: 'BUSINESS',
    profile_picture_url: null,
    followers_count: 1234,
    follows_count: 56,
    media_count: 78,
  };
  const out: Record<string, unknown> = {};
  for (const field of wanted) out[field] = values[field];
  if (!('id' in out)) out.id = values.id;
  return { status: 200, body: out };
}

/**
 * The legacy multi-read. 'removed' (today's reality, whatever the URL's version): HTTP 500 with the
 * deprecation message. 'working': at most 50 ids and all-or-nothing, as it used to be.
 */
function answerLegacyIds(ctx: ReadContext, query: URLSearchParams): SimAnswer {
  if ((ctx.options.legacyIds ?? 'removed') === 'removed') return errors.idsRemoved();
  const ids = [...new Set(parseIds(query))];
  if (ids.length === 0) return errors.unsupportedGetBare();
  if (ids.length > MAX_LEGACY_IDS) return errors.tooManyIds(ids.length);
  const wanted = parseFields(query) ?? DEFAULT_USER_FIELDS;
  const unknown = badField(wanted, USER_FIELDS);
  if (unknown !== undefined) return errors.nonexistingField(unknown);

  // Every id is read (so transient attempts count for each), then the first failure fails all.
  // Unknown, blocked and non-numeric ids are "missing aliases", listed together in one (#803).
  let delayMs = 0;
  const missing: string[] = [];
  let first: SimAnswer | 'missing alias' | undefined;
  for (const id of ids) {
    if (!/^\d+$/.test(id)) {
      missing.push(id);
      first ??= 'missing alias';
      continue;
    }
    const kind = scenarioFor(id, ctx.options.scenarios)?.kind;
    const outcome = scenarioOutcome(ctx, id);
    delayMs = Math.max(delayMs, outcome.delayMs);
    if (!outcome.error) continue;
    if (kind === 'blocked' || kind === 'unknownUser') {
      missing.push(id);
      first ??= 'missing alias';
    } else {
      first ??= outcome.error;
    }
  }
  if (first === 'missing alias') return { ...errors.aliasesMissing(missing), delayMs };
  if (first) return { ...first, delayMs };
  const body: Record<string, unknown> = {};
  for (const id of ids) body[id] = render(id, profileFor(ctx, id), wanted);
  return { status: 200, body, delayMs };
}
