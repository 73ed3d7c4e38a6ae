import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import { GraphNetworkError, type GraphClient } from '../client.js';
import { classifyGraphError, graphErrorOf, isIdsRemoval, retryAfterFrom } from '../errors.js';
import { fieldsParam, IdsParameterRemoved, type FetchStrategy } from './types.js';
import { type ProfileOutcome, failAll, networkFailure } from '../outcomes.js';

/**
 * Legacy `GET /vNN.0/?ids=a,b`: one round trip, but one bad id fails the whole call. A failure that
 * could belong to a single id is isolated by splitting the group in halves until the culprit stands
 * alone, so good ids still answer (a group with one bad id costs about 2·log2(n) extra calls).
 */
export class IdsStrategy implements FetchStrategy {
  readonly name = 'ids';

  constructor(private readonly client: GraphClient) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const results = new Map<string, ProfileOutcome>();
    await this.fetchInto(ids, fieldsParam(fields), results);
    return results;
  }

  private async fetchInto(ids: readonly string[], fields: string, results: Map<string, ProfileOutcome>): Promise<void> {
    let answer;
    try {
      answer = await this.client.get('ids', '', { ids: ids.join(','), fields });
    } catch (error) {
      if (error instanceof GraphNetworkError) {
        for (const [id, outcome] of failAll(ids, networkFailure(error.reason))) results.set(id, outcome);
        return;
      }
      throw error;
    }
    const error = graphErrorOf(answer.body);
    if (isIdsRemoval(error)) throw new IdsParameterRemoved(error?.message ?? 'ids parameter removed');

    if (answer.status >= 200 && answer.status < 300 && !error && answer.body && typeof answer.body === 'object') {
      const byId = answer.body as Record<string, unknown>;
      for (const id of ids) results.set(id, outcomeOf(answer.status, answer.headers, byId[id] ?? null, id));
      return;
    }
    if (ids.length === 1) {
      results.set(ids[0]!, outcomeOf(answer.status, answer.headers, answer.body, ids[0]!));
      return;
    }
    const failure = classifyGraphError(answer.status, error, retryAfterFrom(answer.headers));
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
