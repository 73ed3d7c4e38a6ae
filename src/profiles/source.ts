import type { GraphField } from '../graph/profile.js';
import type { ProfileOutcome } from '../graph/outcomes.js';

/** Meta's limit on ids in one round trip (Batch API sub-requests, legacy ?ids=). */
export const MAX_IDS_PER_ROUND_TRIP = 50;

/** Where the per-request loader gets profiles from: the account's cache, or its batcher when caching is off. */
export interface ProfileSource {
  /** Answers every distinct id asked; never rejects. */
  load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>>;
}
