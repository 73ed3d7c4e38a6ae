// Which behaviour an IGSID gets: an explicit scenario, else a built-in demo prefix, else none.
import { errors, type SimAnswer } from './errors.js';
import type { Scenario } from './types.js';

/**
 * Built-in demo scenarios, so demo mode shows every error class without configuration.
 * Explicit scenarios (options or setScenario) win over these.
 *   9990… consent required · 9991… blocked · 9992… rate limited (1 min) · 9993… always transient
 */
export const DEMO_PREFIXES: ReadonlyArray<[string, Scenario]> = [
  ['9990', { kind: 'consent' }],
  ['9991', { kind: 'blocked' }],
  ['9992', { kind: 'rateLimited', etaMinutes: 1 }],
  ['9993', { kind: 'transient' }],
];

export function scenarioFor(igsid: string, explicit: Record<string, Scenario> | undefined): Scenario | undefined {
  const own = explicit && Object.hasOwn(explicit, igsid) ? explicit[igsid] : undefined;
  if (own) return own;
  return DEMO_PREFIXES.find(([prefix]) => igsid.startsWith(prefix))?.[1];
}

/** How many IGSIDs the transient attempt counters remember. */
export const MAX_COUNTED_IGSIDS = 10_000;

/**
 * Per-IGSID attempt counters for `transient` scenarios (across single, batch and ids calls). At
 * most `maxIds` ids are remembered; beyond that the least recently read id is forgotten, so its
 * count starts again from zero (a `times: n` scenario then fails n more reads).
 */
export class AttemptCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly maxIds = MAX_COUNTED_IGSIDS) {}

  next(igsid: string): number {
    const n = (this.counts.get(igsid) ?? 0) + 1;
    // Delete then set: the Map's insertion order becomes least-recently-read first.
    this.counts.delete(igsid);
    this.counts.set(igsid, n);
    if (this.counts.size > this.maxIds) this.counts.delete(this.counts.keys().next().value!);
    return n;
  }

  /** IGSIDs currently counted. */
  get size(): number {
    return this.counts.size;
  }
  reset(igsid?: string): void {
    if (igsid === undefined) this.counts.clear();
    else this.counts.delete(igsid);
  }
}

/**
 * The error (or delay / batch-null marker) a scenario imposes on one read of `igsid`, or
 * undefined when the read should succeed. Call once per read: `transient` counts attempts.
 */
export function applyScenario(scenario: Scenario | undefined, igsid: string, attempts: AttemptCounter): SimAnswer | undefined {
  if (!scenario) return undefined;
  switch (scenario.kind) {
    case 'consent':
      return errors.consent();
    case 'blocked':
      return errors.unsupportedGet(igsid);
    case 'unknownUser':
      return errors.unknownUser();
    case 'permission':
      return errors.permission();
    case 'tokenInvalid':
      return errors.tokenInvalid(scenario.subcode ?? 460);
    case 'rateLimited': {
      const answer = errors.appRateLimited();
      answer.throttle = { appCallCount: 100, etaMinutes: scenario.etaMinutes ?? 5 };
      if (scenario.retryAfterSeconds !== undefined) answer.headers = { 'Retry-After': String(scenario.retryAfterSeconds) };
      return answer;
    }
    case 'businessRateLimited': {
      const answer = errors.businessRateLimited();
      answer.throttle = { businessCallCount: 100, etaMinutes: scenario.etaMinutes ?? 5 };
      return answer;
    }
    case 'transient': {
      const attempt = attempts.next(igsid);
      if (attempt > (scenario.times ?? Infinity)) return undefined;
      return errors.transient(scenario.code ?? 2, scenario.httpStatus ?? 500);
    }
    case 'httpError':
      return { status: scenario.status, body: scenario.body ?? defaultErrorPage(scenario.status), raw: true };
    case 'slow':
    case 'batchNull':
      // Not errors: the caller applies the delay / the batch null marker.
      return undefined;
  }
}

function defaultErrorPage(status: number): string {
  const title = status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : 'Error';
  return `<html><head><title>${status} ${title}</title></head><body><h1>${status} ${title}</h1></body></html>`;
}
