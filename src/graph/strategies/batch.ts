import { z } from 'zod';
import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import type { GraphClient } from '../client.js';
import { classifyGraphError, graphErrorOf } from '../errors.js';
import type { UpstreamGate } from '../gate.js';
import { BatchApiRefused, fieldsParam, type FetchStrategy } from './types.js';
import { USAGE_HEADERS } from '../usage.js';
import { type GatewayErrorCode, type ProfileOutcome, failAll, incompleteFailure, mismatchFailure } from '../outcomes.js';

const batchArray = z.array(z.unknown());
const batchElement = z.object({
  code: z.number().int(),
  headers: z
    .array(z.object({ name: z.string().max(256), value: z.string().max(16_384) }))
    .max(100)
    .optional()
    .catch(undefined),
  body: z.string().nullable().optional(),
});

/** Failures that concern the caller or the moment, not the Batch API itself. */
const NOT_A_REFUSAL: ReadonlySet<GatewayErrorCode> = new Set(['ACCESS_TOKEN_INVALID', 'PERMISSION_DENIED', 'RATE_LIMITED']);

/**
 * Meta's Batch API: one `POST /vNN.0/` carrying up to 50 GETs. Each element of the answer
 * succeeds or fails on its own, so one bad IGSID never fails its neighbours. Elements are matched
 * to requests by position and checked by id: an answer of another length fails the whole group.
 */
export class BatchStrategy implements FetchStrategy {
  readonly name = 'batch';

  constructor(
    private readonly client: GraphClient,
    private readonly gate: UpstreamGate,
  ) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const query = `fields=${fieldsParam(fields)}`;
    const batch = JSON.stringify(ids.map((id) => ({ method: 'GET', relative_url: `${id}?${query}` })));
    const sent = await this.gate.send(ids.length, () => this.client.postForm('batch', '', { batch, include_headers: 'true' }));
    if ('failure' in sent) return failAll(ids, sent.failure);
    const { answer } = sent;
    if (answer.status < 200 || answer.status >= 300) {
      const failure = classifyGraphError(answer.status, graphErrorOf(answer.body), answer.usage.waitSeconds);
      if (NOT_A_REFUSAL.has(failure.code)) return failAll(ids, failure);
      const refusal = `Batch API refused (HTTP ${answer.status}, Graph code ${failure.graph?.code ?? 'none'})`;
      // A 5xx is only a presumed refusal (auto mode decides whether it is an outage); Graph's own
      // transient codes (1, 2, is_transient) below 500 are a blip, not a refusal.
      if (answer.status >= 500) throw new BatchApiRefused(refusal, failure);
      if (failure.transient) return failAll(ids, failure);
      throw new BatchApiRefused(refusal);
    }
    const elements = batchArray.safeParse(answer.body);
    if (!elements.success) throw new BatchApiRefused(`Batch API answered HTTP ${answer.status} without an array`);
    if (elements.data.length !== ids.length) return failAll(ids, mismatchFailure());
    const now = this.gate.now();
    return new Map(ids.map((id, index) => [id, this.elementOutcome(elements.data[index], id, now)]));
  }

  private elementOutcome(raw: unknown, id: string, now: number): ProfileOutcome {
    const element = batchElement.safeParse(raw);
    if (!element.success) return { ok: false, failure: incompleteFailure() };
    // Only the usage headers are read: a plain map of those is far cheaper than a fetch Headers per element.
    const usageHeaders = new Map<string, string>();
    for (const header of element.data.headers ?? []) {
      const name = header.name.toLowerCase();
      if (!USAGE_HEADERS.has(name)) continue;
      const before = usageHeaders.get(name);
      usageHeaders.set(name, before === undefined ? header.value : `${before}, ${header.value}`);
    }
    const headers = { get: (name: string) => usageHeaders.get(name.toLowerCase()) ?? null };
    let body: unknown = element.data.body;
    try {
      body = JSON.parse(element.data.body ?? '');
    } catch {
      // A non-JSON element body is classified by its status alone.
    }
    const usage = this.gate.observeElement(element.data.code, headers, body);
    return outcomeOf(element.data.code, usage, body, id, now);
  }
}
