import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import { GraphNetworkError, type GraphClient } from '../client.js';
import { classifyGraphError, graphErrorOf, retryAfterFrom } from '../errors.js';
import { BatchApiRefused, fieldsParam, type FetchStrategy } from './types.js';
import { type ProfileOutcome, type UpstreamFailure, failAll, networkFailure } from '../outcomes.js';

interface BatchElement {
  code?: number;
  headers?: Array<{ name?: string; value?: string }>;
  body?: string;
}

const INCOMPLETE: UpstreamFailure = {
  code: 'UPSTREAM_UNAVAILABLE',
  message: 'Meta did not complete this part of the batch.',
  retryable: true,
  transient: true,
};

/** Failures that concern the caller or the moment, not the Batch API itself. */
const NOT_A_REFUSAL = new Set(['ACCESS_TOKEN_INVALID', 'PERMISSION_DENIED', 'RATE_LIMITED']);

/**
 * Meta's Batch API: one `POST /vNN.0/` carrying up to 50 GETs. Each element of the answer
 * succeeds or fails on its own, so one bad IGSID never fails its neighbours.
 */
export class BatchStrategy implements FetchStrategy {
  readonly name = 'batch';

  constructor(private readonly client: GraphClient) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const query = `fields=${fieldsParam(fields)}`;
    const batch = JSON.stringify(ids.map((id) => ({ method: 'GET', relative_url: `${id}?${query}` })));
    let answer;
    try {
      answer = await this.client.postForm('batch', '', { batch, include_headers: 'true' });
    } catch (error) {
      if (error instanceof GraphNetworkError) return failAll(ids, networkFailure(error.reason));
      throw error;
    }
    if (answer.status < 200 || answer.status >= 300) {
      const failure = classifyGraphError(answer.status, graphErrorOf(answer.body), retryAfterFrom(answer.headers));
      if (NOT_A_REFUSAL.has(failure.code)) return failAll(ids, failure);
      const refusal = `Batch API refused (HTTP ${answer.status}, Graph code ${failure.graph?.code ?? 'none'})`;
      // A host (or a proxy before it) that keeps answering batch POSTs with 5xx after the retries
      // is treated as refusing them, so auto mode can try per-object reads; Graph's own transient
      // codes (1, 2, is_transient) below 500 are a blip, not a refusal.
      if (answer.status >= 500) throw new BatchApiRefused(refusal, failure);
      if (failure.transient) return failAll(ids, failure);
      throw new BatchApiRefused(refusal);
    }
    if (!Array.isArray(answer.body)) {
      throw new BatchApiRefused(`Batch API answered HTTP ${answer.status} without an array`);
    }
    const elements = answer.body as Array<BatchElement | null>;
    return new Map(ids.map((id, index) => [id, elementOutcome(elements[index], id)]));
  }
}

function elementOutcome(element: BatchElement | null | undefined, id: string): ProfileOutcome {
  if (!element || typeof element !== 'object' || typeof element.code !== 'number') {
    return { ok: false, failure: INCOMPLETE };
  }
  const headers = new Headers();
  for (const header of element.headers ?? []) {
    if (typeof header?.name === 'string' && typeof header.value === 'string') headers.append(header.name, header.value);
  }
  let body: unknown = element.body;
  try {
    body = JSON.parse(element.body ?? '');
  } catch {
    // A non-JSON element body is classified by its status alone.
  }
  return outcomeOf(element.code, headers, body, id);
}
