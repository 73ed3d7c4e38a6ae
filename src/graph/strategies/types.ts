import type { GraphField } from '../profile.js';
import type { ProfileOutcome, UpstreamFailure } from '../outcomes.js';

export type StrategyName = 'batch' | 'single' | 'ids';

/**
 * How one group of at most 50 distinct IGSIDs travels to Meta. A strategy answers every id it was
 * given (a failure is an outcome, not an exception) and throws only to say the host does not
 * support it at all.
 */
export interface FetchStrategy {
  /** The strategy that will carry the next group (auto mode changes its mind). */
  readonly name: StrategyName;
  fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>>;
}

/**
 * The host does not accept the Batch API: a top-level refusal that is not auth or throttling.
 * `failure` is set when the refusal is only presumed (HTTP 5xx that outlived the retries): it is
 * what the ids get when the Batch API is configured explicitly and nothing falls back.
 */
export class BatchApiRefused extends Error {
  override name = 'BatchApiRefused';
  constructor(
    message: string,
    readonly failure?: UpstreamFailure,
  ) {
    super(message);
  }
}

/** The host answered Meta's 2026 notice that `?ids=` is gone. */
export class IdsParameterRemoved extends Error {
  override name = 'IdsParameterRemoved';
}

/** The `fields=` value: `id` alone when the selection needs no profile field. */
export function fieldsParam(fields: readonly GraphField[]): string {
  return fields.length ? fields.join(',') : 'id';
}
