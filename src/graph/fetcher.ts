import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { GraphField } from './profile.js';
import type { FetchStrategy } from './strategies/index.js';
import { type ProfileOutcome, missingOutcome, internalFailure } from './outcomes.js';

export interface RetryPolicy {
  retries: number;
  baseMs: number;
}

/** Thrown inside the retry loop while some ids still have a temporary failure. */
class TransientLeft extends Error {
  constructor(readonly ids: string[]) {
    super(`${ids.length} id(s) failed transiently`);
  }
}

export interface FetcherHooks {
  /** Once per group, after its retries. */
  onGroup?: (report: GroupReport) => void;
  /** Once per id of a group: `ok` or the gateway error code it ended with, and whether Meta was asked (not refused by a pause or shed). */
  onProfile?: (result: string, sent: boolean) => void;
}

export interface GroupReport {
  strategy: string;
  ids: number;
  attempts: number;
  durationMs: number;
}

/**
 * Fetches one group (≤ 50 distinct ids) through the current strategy, retrying only the ids whose
 * failure is temporary, with capped exponential backoff and jitter. Throttling, consent, blocks
 * and token errors are final and never retried here. It never rejects: a throwing strategy or hook
 * still leaves every id with an outcome.
 */
export class ProfileFetcher {
  constructor(
    private readonly strategy: FetchStrategy,
    private readonly retry: RetryPolicy,
    private readonly logger: Logger,
    private readonly hooks: FetcherHooks = {},
  ) {}

  async fetchGroup(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const settled = new Map<string, ProfileOutcome>();
    let pending = [...ids];
    let attempts = 0;
    const started = performance.now();
    const strategy = this.strategy.name;
    try {
      await pRetry(
        async () => {
          attempts++;
          const outcomes = await this.strategy.fetch(pending, fields);
          const stillTransient: string[] = [];
          for (const id of pending) {
            const outcome = outcomes.get(id);
            settled.set(id, outcome ?? missingOutcome());
            if (outcome && !outcome.ok && outcome.failure.transient) stillTransient.push(id);
          }
          pending = stillTransient;
          if (pending.length) throw new TransientLeft(pending);
        },
        {
          retries: this.retry.retries,
          minTimeout: this.retry.baseMs,
          maxTimeout: this.retry.baseMs * 20,
          factor: 2,
          randomize: true,
          shouldRetry: ({ error }) => error instanceof TransientLeft,
          onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
            if (error instanceof TransientLeft && retriesLeft > 0) {
              this.logger.debug({ ids: error.ids.length, attempt: attemptNumber }, 'retrying transient Graph failures');
            }
          },
        },
      );
    } catch (error) {
      // Out of retries: the ids keep their last (transient) failure, which maps to UPSTREAM_UNAVAILABLE.
      if (!(error instanceof TransientLeft)) this.failAllUnexpectedly(ids, settled, error);
    }
    try {
      this.hooks.onGroup?.({ strategy, ids: ids.length, attempts, durationMs: performance.now() - started });
      if (this.hooks.onProfile) {
        for (const outcome of settled.values()) this.hooks.onProfile(outcome.ok ? 'ok' : outcome.failure.code, outcome.ok || !outcome.failure.notSent);
      }
    } catch (error) {
      // A metrics hook failing must not cost the waiters their answers.
      this.logger.error({ err: error }, 'a fetch hook failed');
    }
    return settled;
  }

  /** A programming error in a strategy: every id still gets a typed answer, never a bare 500. */
  private failAllUnexpectedly(ids: readonly string[], settled: Map<string, ProfileOutcome>, error: unknown): void {
    this.logger.error({ err: error, ids: ids.length }, 'fetching a group failed unexpectedly');
    const failure = internalFailure(error);
    for (const id of ids) settled.set(id, { ok: false, failure });
  }
}
