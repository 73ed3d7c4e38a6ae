import type { GraphField } from '../profile.js';
import { outcomeOf } from '../answer.js';
import type { GraphClient } from '../client.js';
import type { UpstreamGate } from '../gate.js';
import { fieldsParam, type FetchStrategy } from './types.js';
import type { ProfileOutcome } from '../outcomes.js';

/**
 * One GET per IGSID, at most `concurrency` at a time: works on every host, costs n round trips.
 * Each GET goes through the gate, so once one is throttled the group's remaining ids are not sent.
 */
export class SingleStrategy implements FetchStrategy {
  readonly name = 'single';

  constructor(
    private readonly client: GraphClient,
    private readonly gate: UpstreamGate,
    private readonly concurrency: number,
  ) {}

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const results = new Map<string, ProfileOutcome>();
    const query = { fields: fieldsParam(fields) };
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        results.set(id, await this.fetchOne(id, query));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, ids.length) }, worker));
    return results;
  }

  private async fetchOne(id: string, query: Record<string, string>): Promise<ProfileOutcome> {
    const sent = await this.gate.send(1, () => this.client.get('single', id, query));
    if ('failure' in sent) return { ok: false, failure: sent.failure };
    const { answer } = sent;
    return outcomeOf(answer.status, answer.usage, answer.body, id, this.gate.now());
  }
}
