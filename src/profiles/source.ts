import type { ProfileFetcher } from '../graph/fetcher.js';
import type { GraphField } from '../graph/profile.js';
import type { ProfileOutcome } from '../graph/outcomes.js';

/** Meta's limit on ids in one round trip (Batch API sub-requests, legacy ?ids=). */
export const MAX_IDS_PER_ROUND_TRIP = 50;

/** Where the per-request loader gets profiles from: upstream, or a cache/coalescing layer over it. */
export interface ProfileSource {
  load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>>;
}

/** Straight to Meta: distinct ids, in groups of at most 50, groups in parallel. */
export class UpstreamSource implements ProfileSource {
  constructor(private readonly fetcher: ProfileFetcher) {}

  async load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const distinct = [...new Set(ids)];
    const groups: string[][] = [];
    for (let i = 0; i < distinct.length; i += MAX_IDS_PER_ROUND_TRIP) {
      groups.push(distinct.slice(i, i + MAX_IDS_PER_ROUND_TRIP));
    }
    const results = new Map<string, ProfileOutcome>();
    for (const outcomes of await Promise.all(groups.map((group) => this.fetcher.fetchGroup(group, fields)))) {
      for (const [id, outcome] of outcomes) results.set(id, outcome);
    }
    return results;
  }
}
