import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { classifyGraphError, graphErrorOf } from './errors.js';
import type { UsageReport } from './usage.js';

/** The wait when Meta throttles (or usage crosses the threshold) without saying how long. */
export const DEFAULT_BLOCK_SECONDS = 60;

export interface UsageGuardOptions {
  /** Usage percentage at which to stop calling Meta. */
  thresholdPercent: number;
  clock: Clock;
  logger: Logger;
  /** The account's id for log lines (learned after the guard is built, for a single-token setup). */
  label: () => string;
  /** Called when a block starts or grows (metrics). */
  onBlock?: (reason: 'usage' | 'throttled', seconds: number) => void;
  onUsage?: (percent: number) => void;
  /** A pause this process decided started or grew to `ms` from now (shared with other replicas). */
  onPause?: (ms: number) => void;
}

/**
 * One account's brake. Meta's usage headers say how close the app and the business are to being
 * blocked; past the threshold, and after any throttling answer, the gateway stops calling Meta for
 * this account until the advertised wait is over, instead of driving the account into a longer block.
 * Only the upstream gate (gate.ts) talks to it.
 */
export class UsageGuard {
  private blockedUntil = 0;
  private latest: { percent: number; atMs: number } | undefined;

  constructor(private readonly options: UsageGuardOptions) {}

  /** The latest usage percentage Meta reported, and when (refresh-ahead spends only headroom). */
  latestUsage(): { percent: number; atMs: number } | undefined {
    return this.latest;
  }

  /** Seconds left of the current block (0 when calls may go out). */
  remainingSeconds(): number {
    const left = this.blockedUntil - this.options.clock.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Another replica paused this account for `ms` more: pause here too (never shortens a pause). */
  adopt(ms: number): boolean {
    const until = this.options.clock.now() + ms;
    if (until <= this.blockedUntil) return false;
    this.blockedUntil = until;
    return true;
  }

  /**
   * One upstream answer (a whole HTTP answer, or one Batch API element), as it arrives: a
   * throttling error starts a pause; otherwise the highest usage figure decides.
   */
  observe(status: number, body: unknown, usage: UsageReport): void {
    if (usage.clampedFromSeconds !== undefined) {
      this.options.logger.warn(
        { account: this.options.label(), advertisedSeconds: usage.clampedFromSeconds, seconds: usage.waitSeconds },
        'Meta advertised a wait longer than MAX_UPSTREAM_PAUSE_SECONDS: clamped',
      );
    }
    if (status >= 400) {
      const failure = classifyGraphError(status, graphErrorOf(body), usage.waitSeconds);
      if (failure.code === 'RATE_LIMITED') this.block(usage.waitSeconds ?? DEFAULT_BLOCK_SECONDS, 'throttled');
    }
    if (usage.percent === undefined) return;
    this.latest = { percent: usage.percent, atMs: this.options.clock.now() };
    this.options.onUsage?.(usage.percent);
    if (usage.percent >= this.options.thresholdPercent) {
      this.block(usage.waitSeconds ?? DEFAULT_BLOCK_SECONDS, 'usage', usage.percent);
    }
  }

  private block(seconds: number, reason: 'usage' | 'throttled', percent?: number): void {
    const until = this.options.clock.now() + seconds * 1000;
    if (until <= this.blockedUntil) return;
    const wasBlocked = this.remainingSeconds() > 0;
    this.blockedUntil = until;
    this.options.onBlock?.(reason, seconds);
    this.options.onPause?.(seconds * 1000);
    if (!wasBlocked) this.options.logger.warn({ account: this.options.label(), reason, seconds, ...(percent !== undefined ? { percent } : {}) }, 'pausing calls to Meta for this account');
  }
}
