import type { GraphProfile } from './profile.js';
import { classifyGraphError, graphErrorOf, retryAfterFrom } from './errors.js';
import type { ProfileOutcome } from './outcomes.js';

/**
 * Reads one object answer (a single GET, or one Batch API element) into an outcome. An answer with
 * status 2xx must be an object; anything else is classified by the error table.
 */
export function outcomeOf(status: number, headers: Headers, body: unknown, igsid: string): ProfileOutcome {
  if (status >= 200 && status < 300 && body && typeof body === 'object' && !graphErrorOf(body)) {
    return { ok: true, profile: { ...(body as object), id: igsid, fetchedAt: Date.now() } as GraphProfile };
  }
  return { ok: false, failure: classifyGraphError(status, graphErrorOf(body), retryAfterFrom(headers), igsid) };
}
