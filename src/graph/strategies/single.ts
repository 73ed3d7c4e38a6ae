import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import { GraphNetworkError, type GraphClient } from '../client.js';
import { fieldsParam, type FetchStrategy } from './types.js';
import { type ProfileOutcome, networkFailure, pausedFailure } from '../outcomes.js';

/** One GET per IGSID, at most `concurrency` at a time: works on every host, costs n round trips. */
export class SingleStrategy implements FetchStrategy {
  readonly name = 'single';

  constructor(
    private readonly client: GraphClient,
    private readonly concurrency: number,
    /** Seconds left of the account's pause: once a call is throttled, the group's remaining ids are not sent. */
    private readonly pausedSeconds: () => number = () => 0,
  ) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const results = new Map<string, ProfileOutcome>();
    const query = { fields: fieldsParam(fields) };
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const paused = this.pausedSeconds();
        results.set(id, paused > 0 ? { ok: false, failure: pausedFailure(paused) } : await this.fetchOne(id, query));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, ids.length) }, worker));
    return results;
  }

  private async fetchOne(id: string, query: Record<string, string>): Promise<ProfileOutcome> {
    try {
      const answer = await this.client.get('single', id, query);
      return outcomeOf(answer.status, answer.headers, answer.body, id);
    } catch (error) {
      if (error instanceof GraphNetworkError) return { ok: false, failure: networkFailure(error.reason) };
      throw error;
    }
  }
}
