import { GRAPH_FIELDS } from '../graph/profile.js';
import type { ProfileOutcome } from '../graph/outcomes.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from '../profiles/source.js';
import { backgroundTrace } from '../telemetry-background.js';

/** Prefetch groups (≤50 ids each) one account may have in flight: interactive lookups keep the rest of Meta's budget. */
export const PREFETCH_GROUPS_IN_FLIGHT = 2;

export type PrefetchDropReason = 'queue_full' | 'paused' | 'shutdown';

/** What the queue needs of an account. */
export interface PrefetchAccount {
  id: string;
  source: ProfileSource;
  /** Seconds left of the account's pause (usage at/over the threshold, or throttled); 0 when calls may go out. */
  pausedSeconds(): number;
}

export interface PrefetchOptions {
  /** Ids that may wait per account; more are dropped (`queue_full`). */
  queueLimit: number;
  onDropped(reason: PrefetchDropReason, count: number): void;
  onFetched(outcomes: Map<string, ProfileOutcome>): void;
  onError(error: unknown): void;
}

/**
 * One account's webhook prefetch: best-effort cache warming, so it yields to everything else. Ids
 * wait in a bounded queue and leave in groups of ≤50, at most `PREFETCH_GROUPS_IN_FLIGHT` at once;
 * the account's pause is checked before every group, and while it lasts the queue is dropped (and
 * counted) rather than sent — a later lookup simply fetches the profile itself. Each group is a
 * trace of its own (`webhook.prefetch`), its Graph round trips under it.
 */
export class PrefetchQueue {
  private readonly queued = new Set<string>();
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly account: PrefetchAccount,
    private readonly options: PrefetchOptions,
  ) {}

  enqueue(ids: Iterable<string>): void {
    let full = 0;
    for (const igsid of ids) {
      if (this.queued.has(igsid)) continue;
      if (this.closed || this.queued.size >= this.options.queueLimit) full += 1;
      else this.queued.add(igsid);
    }
    if (full > 0) this.options.onDropped(this.closed ? 'shutdown' : 'queue_full', full);
    this.pump();
  }

  /** Stops taking ids, drops the waiting ones and resolves when the groups in flight are done. */
  close(): Promise<void> {
    this.closed = true;
    this.dropQueued('shutdown');
    return this.idle();
  }

  /** Resolves when nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.queued.size === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.queued.size > 0 && this.inFlight < PREFETCH_GROUPS_IN_FLIGHT) {
      if (this.account.pausedSeconds() > 0) {
        this.dropQueued('paused');
        break;
      }
      const group: string[] = [];
      for (const igsid of this.queued) {
        if (group.length === MAX_IDS_PER_ROUND_TRIP) break;
        group.push(igsid);
      }
      for (const igsid of group) this.queued.delete(igsid);
      this.inFlight += 1;
      // A trace of its own: a group gathers ids from many deliveries, so it belongs to none of them.
      void backgroundTrace('webhook.prefetch', { 'instagram.account.id': this.account.id, 'instagram.ids.count': group.length }, () =>
        this.account.source.load(group, GRAPH_FIELDS),
      )
        .then((outcomes) => this.options.onFetched(outcomes))
        .catch((error: unknown) => this.options.onError(error))
        .finally(() => {
          this.inFlight -= 1;
          this.pump();
        });
    }
    if (this.queued.size === 0 && this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private dropQueued(reason: PrefetchDropReason): void {
    if (this.queued.size === 0) return;
    this.options.onDropped(reason, this.queued.size);
    this.queued.clear();
  }
}
