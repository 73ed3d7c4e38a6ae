import DataLoader from 'dataloader';
import type { GraphQLError } from 'graphql';
import { upstreamError } from './errors.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from '../profiles/source.js';
import { canonicalFields, type GraphField, type GraphProfile } from '../graph/profile.js';
import { type ProfileOutcome, type StaleNotice, missingOutcome } from '../graph/outcomes.js';

interface ProfileKey {
  igsid: string;
  fields: GraphField[];
}

/**
 * Per-request loader: every `instagramUser(s)` lookup in one GraphQL operation lands here, is
 * deduplicated, and leaves in batches of at most 50 ids asking the union of the selected fields.
 * Per request on purpose (DataLoader's own advice): its memo never outlives the operation.
 */
export class ProfileLoader {
  private readonly loader: DataLoader<ProfileKey, GraphProfile, string>;

  /** `onStale` hears of every profile served stale because Meta failed (for the response extension). */
  constructor(source: ProfileSource, onStale?: (igsid: string, notice: StaleNotice) => void) {
    this.loader = new DataLoader<ProfileKey, GraphProfile, string>((keys) => loadBatch(source, keys, onStale), {
      maxBatchSize: MAX_IDS_PER_ROUND_TRIP,
      cacheKeyFn: (key) => `${key.igsid}|${key.fields.join(',')}`,
    });
  }

  load(igsid: string, fields: Iterable<GraphField>): Promise<GraphProfile> {
    return this.loader.load({ igsid, fields: canonicalFields(fields) });
  }
}

async function loadBatch(
  source: ProfileSource,
  keys: readonly ProfileKey[],
  onStale: ((igsid: string, notice: StaleNotice) => void) | undefined,
): Promise<Array<GraphProfile | GraphQLError>> {
  const fields = canonicalFields(keys.flatMap((key) => key.fields));
  const outcomes = await source.load(
    keys.map((key) => key.igsid),
    fields,
  );
  if (onStale) {
    for (const [igsid, outcome] of outcomes) if (outcome.ok && outcome.stale) onStale(igsid, outcome.stale);
  }
  return keys.map((key) => toResult(outcomes.get(key.igsid), key.igsid));
}

function toResult(outcome: ProfileOutcome = missingOutcome(), igsid: string): GraphProfile | GraphQLError {
  if (!outcome.ok) return upstreamError(igsid, outcome.failure);
  if (!outcome.invalid) return outcome.profile;
  // Wrong-typed fields answer as field errors (resolvers), and the answer is never cached whole.
  const profile: GraphProfile = { ...outcome.profile, invalid: outcome.invalid, freshUntil: 0 };
  for (const field of outcome.invalid) profile[field] = null;
  return profile;
}
