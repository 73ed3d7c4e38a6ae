import type { Clock, ClockTimer } from '../../src/clock.js';

/**
 * A clock for end-to-end tests: timers are real (sockets, windows and timeouts keep working), but
 * `now()` runs `offset` ms ahead of the wall clock, and `skip(ms)` jumps it forward at once — a TTL
 * expires without the test sleeping through it.
 */
export class OffsetClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    return setTimeout(callback, ms);
  }

  clearTimeout(timer: ClockTimer): void {
    clearTimeout(timer as NodeJS.Timeout);
  }

  /** Moves time forward by `ms`; timers already scheduled keep their real delays. */
  skip(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`skip(${ms}): time only moves forward`);
    this.offset += ms;
  }
}
