import type { GraphField, GraphProfile } from './profile.js';

/**
 * Every code a gateway error can carry, declared by hand so graph/ needs nothing from the SDL; the
 * SDL's `GatewayErrorCode` enum must list the same values (checked by a test).
 */
export type GatewayErrorCode =
  | 'CONSENT_REQUIRED'
  | 'USER_BLOCKED'
  | 'RATE_LIMITED'
  | 'ACCESS_TOKEN_INVALID'
  | 'PERMISSION_DENIED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR'
  | 'BAD_USER_INPUT'
  | 'ACCOUNT_REQUIRED'
  | 'ACCOUNT_UNKNOWN'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN';

/** Meta's identification of an error, passed to clients in `extensions.graph`. */
export interface GraphErrorFacts {
  code: number | null;
  subcode: number | null;
  type: string | null;
  fbtraceId: string | null;
}

/** Why a profile could not be read: a typed gateway error, before it becomes a GraphQL error. */
export interface UpstreamFailure {
  code: GatewayErrorCode;
  message: string;
  /** May the client ask again later and expect a different answer? */
  retryable: boolean;
  /** May the gateway itself retry now (with backoff)? Only for temporary failures. */
  transient: boolean;
  retryAfterSeconds?: number;
  graph?: GraphErrorFacts;
  /** The gateway decided this without asking Meta (a pause, a shed call): not counted as asked upstream. */
  notSent?: true;
}

/**
 * The result for one IGSID: its profile, or the typed reason it is unavailable. `invalid` lists the
 * fields Meta answered with a wrong type: they are absent from `profile`, must not be cached, and
 * each becomes an UPSTREAM_ERROR field error (see `invalidFieldFailure`).
 */
export type ProfileOutcome =
  | { ok: true; profile: GraphProfile; stale?: StaleNotice; invalid?: GraphField[] }
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

export function failAll(ids: readonly string[], failure: UpstreamFailure): Map<string, ProfileOutcome> {
  return new Map(ids.map((id) => [id, { ok: false, failure }]));
}

/** A request that never got an HTTP answer (connection refused, reset, timed out). */
export function networkFailure(reason: string): UpstreamFailure {
  return {
    code: 'UPSTREAM_UNAVAILABLE',
    message: `Could not get an answer from Meta's Graph API (${reason}).`,
    retryable: true,
    transient: true,
  };
}

/** What an id gets when the account is paused and Meta is not called. */
export function pausedFailure(remainingSeconds: number): UpstreamFailure {
  return {
    code: 'RATE_LIMITED',
    message: `The gateway paused calls to Meta for this account to respect Meta's rate limits; try again in about ${remainingSeconds} s.`,
    retryable: true,
    transient: false,
    retryAfterSeconds: remainingSeconds,
    notSent: true,
  };
}

/** A failure Meta's answer described (built by the error table in errors.ts). */
export function graphFailure(
  code: GatewayErrorCode,
  message: string,
  options: { retryable: boolean; transient?: boolean; retryAfterSeconds?: number | undefined; graph?: GraphErrorFacts | undefined },
): UpstreamFailure {
  return {
    code,
    message,
    retryable: options.retryable,
    transient: options.transient ?? false,
    ...(options.retryAfterSeconds !== undefined ? { retryAfterSeconds: options.retryAfterSeconds } : {}),
    ...(options.graph ? { graph: options.graph } : {}),
  };
}

/** A Batch API element that was null or malformed: Meta did not finish it (retried). */
export function incompleteFailure(): UpstreamFailure {
  return { code: 'UPSTREAM_UNAVAILABLE', message: 'Meta did not complete this part of the batch.', retryable: true, transient: true };
}

/** Meta's answer could not be matched to this id (wrong length, order or id): nothing of it is used. */
export function mismatchFailure(): UpstreamFailure {
  return { code: 'UPSTREAM_ERROR', message: 'Meta\'s answer did not match the ids asked; it was discarded.', retryable: true, transient: false };
}

/** A 2xx answer for this id that is not a profile object. */
export function malformedFailure(): UpstreamFailure {
  return { code: 'UPSTREAM_ERROR', message: 'Meta answered this id with something that is not a profile.', retryable: true, transient: false };
}

/** What the schema layer reports for a field listed in an outcome's `invalid`. */
export function invalidFieldFailure(field: GraphField): UpstreamFailure {
  return { code: 'UPSTREAM_ERROR', message: `Meta answered the field ${field} with a value of the wrong type; it is left out.`, retryable: true, transient: false };
}

/** The explicitly configured Batch API is refused by the host. */
export function batchRefusedFailure(): UpstreamFailure {
  return {
    code: 'UPSTREAM_ERROR',
    message: 'The Graph host refuses the Batch API; set GRAPH_BATCH_STRATEGY=auto or single.',
    retryable: false,
    transient: false,
  };
}

/** An answer larger than GRAPH_MAX_RESPONSE_BYTES: reading stopped at the cap. */
export function oversizeFailure(limitBytes: number): UpstreamFailure {
  return {
    code: 'UPSTREAM_ERROR',
    message: `Meta's answer exceeded GRAPH_MAX_RESPONSE_BYTES (${limitBytes} bytes) and was discarded.`,
    retryable: true,
    transient: false,
  };
}

/** Too many upstream calls already waiting or in flight: this one is shed instead of queued. */
export function overloadFailure(setting: string): UpstreamFailure {
  return {
    code: 'UPSTREAM_UNAVAILABLE',
    message: `The gateway has too many calls to Meta waiting (${setting} reached); try again shortly.`,
    retryable: true,
    transient: false,
    notSent: true,
  };
}

/** A fetch that failed unexpectedly (a programming error): still a typed answer for every id, never a bare 500 or a hang. */
export function internalFailure(error: unknown): UpstreamFailure {
  const kind = error instanceof Error ? error.name.slice(0, 40) : 'error';
  return { code: 'UPSTREAM_ERROR', message: `The gateway failed to fetch this profile (${kind}).`, retryable: true, transient: false };
}
