// The Batch API: POST / with batch=[{method, relative_url}, ...]. Each sub-request is answered as
// the same GET would be (graph.ts), wrapped as {code, headers, body: "<JSON string>"}.
import { errors, type SimAnswer } from './errors.js';
import { answerRead, classifyRead, parseFields, type ReadContext } from './graph.js';
import { scenarioFor } from './scenarios.js';
import { usageHeaders } from './usage.js';

export const MAX_BATCH = 50;

export interface SubRequest {
  method: string;
  /** Object path without version or surrounding slashes ('' for the root, 'me', an IGSID, …); null when relative_url is unusable. */
  objectPath: string | null;
  query: URLSearchParams;
}

export type BatchElement = { code: number; headers?: Array<{ name: string; value: string }>; body: string } | null;

/** Parses the `batch` parameter (a JSON string from a form, or an array from a JSON body). */
export function parseBatch(raw: unknown): { parts: SubRequest[] } | { error: SimAnswer } {
  if (raw === undefined || raw === null || raw === '') return { error: errors.batchRequired() };
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { error: errors.batchInvalid('the batch parameter is not valid JSON') };
    }
  }
  if (!Array.isArray(value)) return { error: errors.batchInvalid('the batch parameter must be a JSON array') };
  if (value.length === 0) return { error: errors.batchInvalid('the batch array is empty') };
  const parts: SubRequest[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return { error: errors.batchInvalid('each batch element must be an object with method and relative_url') };
    }
    const { method, relative_url: relativeUrl } = item as { method?: unknown; relative_url?: unknown };
    parts.push({ method: typeof method === 'string' ? method.toUpperCase() : 'GET', ...parseRelativeUrl(relativeUrl) });
  }
  return { parts };
}

/** `123?fields=a`, `/123?…`, `v23.0/123?…` and `/v23.0/123?…` all address object 123. */
export function parseRelativeUrl(relativeUrl: unknown): { objectPath: string | null; query: URLSearchParams } {
  if (typeof relativeUrl !== 'string') return { objectPath: null, query: new URLSearchParams() };
  const q = relativeUrl.indexOf('?');
  const rawPath = q === -1 ? relativeUrl : relativeUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : relativeUrl.slice(q + 1));
  let path = rawPath.replace(/^\/+/, '').replace(/^v\d+\.\d+(\/|$)/, '').replace(/\/+$/, '');
  try {
    path = decodeURIComponent(path);
  } catch {
    return { objectPath: null, query };
  }
  return { objectPath: path, query };
}

/** Ids and fields a batch asked for, for the call log. */
export function describeBatch(parts: SubRequest[]): { ids: string[]; fields: string[] } {
  const ids: string[] = [];
  const fields = new Set<string>();
  for (const part of parts) {
    if (part.objectPath === null) continue;
    ids.push(...classifyRead(part.objectPath, part.query).ids);
    for (const field of parseFields(part.query) ?? []) fields.add(field);
  }
  return { ids, fields: [...fields] };
}

/** Answers every sub-request; the whole batch waits for its slowest element. */
export function answerBatch(ctx: ReadContext, parts: SubRequest[], includeHeaders: boolean): { elements: BatchElement[]; delayMs: number } {
  let delayMs = 0;
  const elements = parts.map((part): BatchElement => {
    const answer = answerPart(ctx, part);
    delayMs = Math.max(delayMs, answer.delayMs ?? 0);
    if (answer.batchNull) return null;
    const body = answer.raw ? String(answer.body) : JSON.stringify(answer.body);
    if (!includeHeaders) return { code: answer.status, body };
    const headers = [{ name: 'Content-Type', value: answer.raw ? 'text/html; charset=utf-8' : 'text/javascript; charset=UTF-8' }];
    // Throttling details travel with the element they concern, not on the batch's own headers.
    if (answer.throttle) {
      for (const [name, value] of Object.entries(usageHeaders(ctx.options, ctx.businessId, answer.throttle))) headers.push({ name, value });
    }
    for (const [name, value] of Object.entries(answer.headers ?? {})) headers.push({ name, value });
    return { code: answer.status, headers, body };
  });
  return { elements, delayMs };
}

function answerPart(ctx: ReadContext, part: SubRequest): SimAnswer {
  if (part.objectPath === null) return errors.batchInvalid('relative_url is missing or malformed');
  // The simulator only models reads: a write in a batch gets Graph's refusal for that element.
  if (part.method !== 'GET') return part.method === 'POST' ? errors.unsupportedPost(part.objectPath.split('/')[0] || undefined) : errors.unsupportedMethod(part.method);
  const { kind, ids } = classifyRead(part.objectPath, part.query);
  if (kind === 'single' && scenarioFor(ids[0]!, ctx.options.scenarios)?.kind === 'batchNull') return { status: 0, body: null, batchNull: true };
  return answerRead(ctx, part.objectPath, part.query);
}
