import type { Clock, ClockTimer } from '../clock.js';

export interface SlotLimits {
  /** Calls in flight at once. */
  max: number;
  /** Calls allowed to wait for a slot; beyond it a call is shed at once. */
  queueLimit: number;
  /** Longest wait for a slot, in ms; beyond it the call is shed. */
  maxWaitMs: number;
}

/** Why a call got no slot: the queue was full, or the wait ran out. */
export type Shed = 'queue_full' | 'wait_timeout';

interface Waiter {
  grant: (result: Shed | null) => void;
  timer: ClockTimer;
}

/**
 * A counting semaphore with a bounded FIFO queue and a bounded wait: concurrent upstream calls
 * stay under `max`, and a burst beyond what the queue holds is refused instead of growing memory.
 */
export class Slots {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly limits: SlotLimits,
    private readonly clock: Clock,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  /** Resolves null once a slot is held (call `release` after), or the reason it was refused. */
  acquire(): Promise<Shed | null> {
    if (this.active < this.limits.max) {
      this.active++;
      return Promise.resolve(null);
    }
    if (this.waiting.length >= this.limits.queueLimit) return Promise.resolve('queue_full');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: this.clock.setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve('wait_timeout');
        }, this.limits.maxWaitMs),
      };
      waiter.timer.unref?.();
      this.waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) {
      // The slot passes straight to the next waiter: `active` does not change.
      this.clock.clearTimeout(next.timer);
      next.grant(null);
    } else {
      this.active = Math.max(0, this.active - 1);
    }
  }
}
