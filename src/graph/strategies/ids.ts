import { z } from 'zod';
import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import type { GraphClient } from '../client.js';
import { classifyGraphError, graphErrorOf, isIdsRemoval } from '../errors.js';
import type { UpstreamGate } from '../gate.js';
import { fieldsParam, IdsParameterRemoved, type FetchStrategy } from './types.js';
import { type ProfileOutcome, failAll } from '../outcomes.js';

const idsMap = z.record(z.string(), z.unknown());

/**
 * Legacy `GET /vNN.0/?ids=a,b`: one round trip, but one bad id fails the whole call. A failure that
 * could belong to a single id is isolated by splitting the group in halves until the culprit stands
 * alone, so good ids still answer (a group with one bad id costs about 2·log2(n) extra calls).
 */
export class IdsStrategy implements FetchStrategy {
  readonly name = 'ids';

  constructor(
    private readonly client: GraphClient,
    private readonly gate: UpstreamGate,
  ) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const results = new Map<string, ProfileOutcome>();
    await this.fetchInto(ids, fieldsParam(fields), results);
    return results;
  }

  private async fetchInto(ids: readonly string[], fields: string, results: Map<string, ProfileOutcome>): Promise<void> {
    const sent = await this.gate.send(ids.length, () => this.client.get('ids', '', { ids: ids.join(','), fields }));
    if ('failure' in sent) {
      for (const [id, outcome] of failAll(ids, sent.failure)) results.set(id, outcome);
      return;
    }
    const { answer } = sent;
    const error = graphErrorOf(answer.body);
    if (isIdsRemoval(error)) throw new IdsParameterRemoved(error?.message ?? 'ids parameter removed');

    const byId = idsMap.safeParse(answer.body);
    if (answer.status >= 200 && answer.status < 300 && !error && byId.success && !Array.isArray(answer.body)) {
      const now = this.gate.now();
      for (const id of ids) results.set(id, outcomeOf(answer.status, answer.usage, Object.hasOwn(byId.data, id) ? byId.data[id] : null, id, now));
      return;
    }
    if (ids.length === 1) {
      results.set(ids[0]!, outcomeOf(answer.status, answer.usage, answer.body, ids[0]!, this.gate.now()));
      return;
    }
    const failure = classifyGraphError(answer.status, error, answer.usage.waitSeconds);
    // Token, permission, throttling and outages concern every id alike: splitting would only add calls.
    if (failure.code !== 'USER_BLOCKED' && failure.code !== 'CONSENT_REQUIRED' && failure.code !== 'UPSTREAM_ERROR') {
      for (const [id, outcome] of failAll(ids, failure)) results.set(id, outcome);
      return;
    }
    const middle = Math.ceil(ids.length / 2);
    await Promise.all([
      this.fetchInto(ids.slice(0, middle), fields, results),
      this.fetchInto(ids.slice(middle), fields, results),
    ]);
  }
}
