import type { GraphProfile } from '../profiles/types.js';
import { classifyGraphError, graphErrorOf, retryAfterFrom, type UpstreamFailure } from './errors.js';

/** The result for one IGSID: its profile, or the typed reason it is unavailable. */
export type ProfileOutcome =
  | { ok: true; profile: GraphProfile; stale?: StaleNotice }
  | { ok: false; failure: UpstreamFailure };

/** A cached profile served because Meta failed (stale-if-error). */
export interface StaleNotice {
  reason: string;
  ageSeconds: number;
}

/** An id the answer did not mention (should not happen; never leaves a waiter hanging). */
export function missingOutcome(): ProfileOutcome {
  return {
    ok: false,
    failure: { code: 'UPSTREAM_ERROR', message: 'Meta\'s answer did not include this id.', retryable: true, transient: false },
  };
}

/**
 * Reads one object answer (a single GET, or one Batch API element) into an outcome. An answer with
 * status 2xx must be an object; anything else is classified by the error table.
 */
export function outcomeOf(status: number, headers: Headers, body: unknown, igsid: string): ProfileOutcome {
  if (status >= 200 && status < 300 && body && typeof body === 'object' && !graphErrorOf(body)) {
    return { ok: true, profile: { ...(body as object), id: igsid } as GraphProfile };
  }
  return { ok: false, failure: classifyGraphError(status, graphErrorOf(body), retryAfterFrom(headers), igsid) };
}

export function failAll(ids: readonly string[], failure: UpstreamFailure): Map<string, ProfileOutcome> {
  return new Map(ids.map((id) => [id, { ok: false, failure }]));
}
