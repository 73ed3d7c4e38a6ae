import type { Clock, ClockTimer } from './clock.js';
import type { Logger } from './logger.js';

/** Failures an operator must see; per-person answers (consent, blocked) are normal traffic, not incidents. */
const OPERATOR_CODES = new Set(['RATE_LIMITED', 'ACCESS_TOKEN_INVALID', 'PERMISSION_DENIED', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_ERROR']);

/**
 * Upstream failures at `warn`, aggregated: per account and code, one line per interval
 * (UPSTREAM_FAILURE_LOG_INTERVAL_SECONDS) with the number of profiles that failed, so a flood of
 * failures is a handful of lines. Keys are bounded by configuration (accounts × the codes above).
 */
export class UpstreamFailureLog {
  private readonly counts = new Map<string, { account: string; code: string; count: number }>();
  private timer: ClockTimer | undefined;

  constructor(private readonly options: { logger: Logger; clock: Clock; intervalMs: number }) {}

  record(account: string, result: string): void {
    if (!OPERATOR_CODES.has(result)) return;
    const key = `${account}\0${result}`;
    const entry = this.counts.get(key);
    if (entry) entry.count += 1;
    else this.counts.set(key, { account, code: result, count: 1 });
    if (!this.timer) {
      this.timer = this.options.clock.setTimeout(() => this.flush(), this.options.intervalMs);
      this.timer.unref?.();
    }
  }

  /** Writes what was counted (also at shutdown, so nothing counted is lost). */
  flush(): void {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const seconds = Math.round(this.options.intervalMs / 1000);
    for (const { account, code, count } of this.counts.values()) {
      this.options.logger.warn({ account, code, count, intervalSeconds: seconds }, `upstream failures: ${count} profile lookup(s) of account ${account} failed with ${code}`);
    }
    this.counts.clear();
  }
}
