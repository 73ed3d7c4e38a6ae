import type { Clock } from '../clock.js';
import { GraphNetworkError, GraphResponseTooLarge, type GraphResponse } from './client.js';
import { networkFailure, overloadFailure, oversizeFailure, pausedFailure, type UpstreamFailure } from './outcomes.js';
import type { Shed, Slots } from './slots.js';
import { parseUsage, type HeaderReader, type UsageReport } from './usage.js';
import type { UsageGuard } from './usage-guard.js';

/** What a call through the gate gives: Meta's answer, or the typed reason there is none. */
export type Sent = { answer: GraphResponse } | { failure: UpstreamFailure };

export interface GateOptions {
  guard: UsageGuard;
  /** Held for the duration of each call, acquired in order: the account's, then the process-wide one. */
  slots: readonly Slots[];
  clock: Clock;
  /** MAX_UPSTREAM_PAUSE_SECONDS, for waits read from Batch API element headers. */
  maxWaitSeconds: number;
  /** Ids answered RATE_LIMITED without a call because the account is paused (metrics). */
  onPaused?: (ids: number) => void;
  /** A call refused a slot (metrics). */
  onShed?: (reason: Shed) => void;
}

const SHED_SETTING: Record<Shed, string> = { queue_full: 'UPSTREAM_QUEUE_LIMIT', wait_timeout: 'UPSTREAM_QUEUE_WAIT_MS' };

/**
 * The one way an account's strategies reach Meta: check the pause, take a concurrency slot, call,
 * and show the answer to the usage guard as it arrives (so calls still queued see a new pause).
 */
export class UpstreamGate {
  constructor(private readonly options: GateOptions) {}

  now(): number {
    return this.options.clock.now();
  }

  /** Sends `call` (carrying `ids` ids) unless the account is paused or no slot is free in time. */
  async send(ids: number, call: () => Promise<GraphResponse>): Promise<Sent> {
    const paused = this.pausedFailure(ids);
    if (paused) return { failure: paused };
    const held: Slots[] = [];
    try {
      for (const slots of this.options.slots) {
        const shed = await slots.acquire();
        if (shed) {
          this.options.onShed?.(shed);
          return { failure: overloadFailure(SHED_SETTING[shed]) };
        }
        held.push(slots);
      }
      // A pause may have started while this call waited for its slot.
      const pausedNow = this.pausedFailure(ids);
      if (pausedNow) return { failure: pausedNow };
      const answer = await call();
      this.options.guard.observe(answer.status, answer.body, answer.usage);
      return { answer };
    } catch (error) {
      if (error instanceof GraphNetworkError) return { failure: networkFailure(error.reason) };
      if (error instanceof GraphResponseTooLarge) return { failure: oversizeFailure(error.limitBytes) };
      throw error;
    } finally {
      for (const slots of held.reverse()) slots.release();
    }
  }

  /** One Batch API element: its headers parsed, and shown to the guard like a whole answer. */
  observeElement(status: number, headers: HeaderReader, body: unknown): UsageReport {
    const usage = parseUsage(headers, { now: this.now(), maxWaitSeconds: this.options.maxWaitSeconds });
    this.options.guard.observe(status, body, usage);
    return usage;
  }

  /** Seconds left of the account's pause (0 when calls may go out). */
  pausedSeconds(): number {
    return this.options.guard.remainingSeconds();
  }

  private pausedFailure(ids: number): UpstreamFailure | undefined {
    const remaining = this.options.guard.remainingSeconds();
    if (remaining <= 0) return undefined;
    this.options.onPaused?.(ids);
    return pausedFailure(remaining);
  }
}
