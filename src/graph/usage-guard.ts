import type { Logger } from 'pino';
import type { GraphField } from './profile.js';
import type { GraphResponse } from './client.js';
import { classifyGraphError, graphErrorOf, parseJsonHeader, retryAfterFrom } from './errors.js';
import type { FetchStrategy } from './strategies/index.js';
import { failAll, pausedFailure, type ProfileOutcome } from './outcomes.js';

/** The wait when Meta throttles (or usage crosses the threshold) without saying how long. */
export const DEFAULT_BLOCK_SECONDS = 60;

export interface UsageGuardOptions {
  /** Usage percentage at which to stop calling Meta. */
  thresholdPercent: number;
  logger: Logger;
  now?: () => number;
  /** The account's id for log lines (learned after the guard is built, for a single-token setup). */
  label: () => string;
  /** Called when a block starts (metrics). */
  onBlock?: (reason: 'usage' | 'throttled', seconds: number) => void;
  onUsage?: (percent: number) => void;
}

/**
 * One account's brake. Meta's usage headers say how close the app and the business are to being
 * blocked; past the threshold, and after any throttling answer, the gateway stops calling Meta for
 * this account until the advertised wait is over, instead of driving the account into a longer block.
 */
export class UsageGuard {
  private blockedUntil = 0;
  private readonly now: () => number;

  constructor(private readonly options: UsageGuardOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds left of the current block (0 when calls may go out). */
  remainingSeconds(): number {
    const left = this.blockedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /**
   * Every upstream HTTP answer, as it arrives (so calls still queued in the same group see the
   * pause): a throttling error starts one; otherwise the highest usage figure decides.
   */
  observe(answer: GraphResponse): void {
    if (answer.status >= 400) {
      const failure = classifyGraphError(answer.status, graphErrorOf(answer.body), retryAfterFrom(answer.headers));
      if (failure.code === 'RATE_LIMITED') this.throttled(failure.retryAfterSeconds);
    }
    const { percent, etaSeconds } = usageOf(answer.headers);
    if (percent === undefined) return;
    this.options.onUsage?.(percent);
    if (percent >= this.options.thresholdPercent) {
      this.block(etaSeconds && etaSeconds > 0 ? etaSeconds : DEFAULT_BLOCK_SECONDS, 'usage', percent);
    }
  }

  /** Meta throttled a call: honour its wait (or the default one). */
  throttled(retryAfterSeconds: number | undefined): void {
    this.block(retryAfterSeconds && retryAfterSeconds > 0 ? retryAfterSeconds : DEFAULT_BLOCK_SECONDS, 'throttled');
  }

  private block(seconds: number, reason: 'usage' | 'throttled', percent?: number): void {
    const until = this.now() + seconds * 1000;
    // The same throttle is seen twice (as the answer arrives, and in the group's outcomes a moment
    // later): only a materially longer wait extends the pause.
    if (until <= this.blockedUntil + 1000) return;
    const wasBlocked = this.remainingSeconds() > 0;
    this.blockedUntil = until;
    this.options.onBlock?.(reason, seconds);
    if (!wasBlocked) this.options.logger.warn({ account: this.options.label(), reason, seconds, ...(percent !== undefined ? { percent } : {}) }, 'pausing calls to Meta for this account');
  }
}

/** Highest percentage in `X-App-Usage` and `X-Business-Use-Case-Usage`, and the longest BUC wait. */
export function usageOf(headers: Headers): { percent: number | undefined; etaSeconds: number | undefined } {
  let percent: number | undefined;
  let etaSeconds: number | undefined;
  const consider = (figures: unknown) => {
    if (!figures || typeof figures !== 'object') return;
    for (const [name, value] of Object.entries(figures as Record<string, unknown>)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (name === 'estimated_time_to_regain_access') etaSeconds = Math.max(etaSeconds ?? 0, value * 60);
      else percent = Math.max(percent ?? 0, value);
    }
  };
  consider(parseJsonHeader(headers.get('x-app-usage')));
  const buc = parseJsonHeader(headers.get('x-business-use-case-usage'));
  if (buc && typeof buc === 'object') {
    for (const entries of Object.values(buc as Record<string, unknown>)) {
      if (Array.isArray(entries)) entries.forEach(consider);
    }
  }
  return { percent, etaSeconds };
}

/**
 * A strategy behind the guard: while the account is paused every id gets RATE_LIMITED with the
 * remaining wait and nothing is sent; a throttling answer from Meta starts a pause.
 */
export class GuardedStrategy implements FetchStrategy {
  constructor(
    private readonly inner: FetchStrategy,
    private readonly guard: UsageGuard,
    private readonly onSkipped?: (ids: number) => void,
  ) {}

  get name() {
    return this.inner.name;
  }

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const remaining = this.guard.remainingSeconds();
    if (remaining > 0) {
      this.onSkipped?.(ids.length);
      return failAll(ids, pausedFailure(remaining));
    }
    const outcomes = await this.inner.fetch(ids, fields);
    let wait: number | undefined;
    let throttled = false;
    for (const outcome of outcomes.values()) {
      if (outcome.ok || outcome.failure.code !== 'RATE_LIMITED') continue;
      throttled = true;
      if (outcome.failure.retryAfterSeconds !== undefined) wait = Math.max(wait ?? 0, outcome.failure.retryAfterSeconds);
    }
    if (throttled) this.guard.throttled(wait);
    return outcomes;
  }
}
