import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { canonicalFields, type GraphField } from '../graph/profile.js';
import { type ProfileOutcome, failAll, internalFailure, missingOutcome } from '../graph/outcomes.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from './source.js';

/** What the batcher sends groups to: the graph layer's fetcher (≤ 50 distinct ids a call). */
export interface GroupFetcher {
  fetchGroup(ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>>;
}

/**
 * A partial group this full no longer waits behind partial trips in flight: waiting lets sparse
 * lookups share a trip, but could save this group at most one trip at the price of a round trip's
 * latency for every id in it (a burst's tail, split from the trip ahead by a pause of a busy process).
 */
const HALF_GROUP = MAX_IDS_PER_ROUND_TRIP / 2;

interface Pending {
  /** When this id joined the queue. */
  since: number;
  fields: Set<GraphField>;
  waiters: Array<(outcome: ProfileOutcome) => void>;
}

interface InFlight {
  fields: ReadonlySet<GraphField>;
  promise: Promise<ProfileOutcome>;
}

export interface BatcherOptions {
  /** False: no window, no sharing; each load goes straight up in groups of ≤ 50 (COALESCING_ENABLED=false). */
  coalescing: boolean;
  /** How long a partly filled group waits for company before it leaves. */
  windowMs: number;
  /** Partly filled groups allowed in flight at once; full groups always leave at once. */
  maxPartialInFlight: number;
  /** Longest a partial group waits (after its window) behind in-flight partial trips before it leaves anyway. */
  maxPartialWaitMs: number;
  clock?: Clock;
  onCoalesced?: () => void;
  /** Hears of a fetch that rejected (it should never); its ids were answered UPSTREAM_ERROR. */
  onFetchError?: (error: unknown) => void;
}

/**
 * Process-wide, per account: lookups from concurrent GraphQL requests join the same upstream
 * round trip (group commit), and concurrent lookups of one id share one fetch (single-flight).
 *
 * A group leaves as soon as it holds 50 ids. A partial group gathers while lookups keep arriving
 * (each within `windowMs` of the one before), for at most one round trip (the latest measured):
 * a burst fills whole groups and its tail leaves one window after the last lookup; idle, a lookup
 * waits one window. Once gathered, a partial group of fewer than 25 ids still waits while
 * `maxPartialInFlight` partial groups are out (steady traffic then fills groups during trips), at
 * most `maxPartialWaitMs`, or until it grows to 25 (then one more window).
 */
export class ProfileBatcher implements ProfileSource {
  private readonly queue = new Map<string, Pending>();
  /** When the newest id joined the queue. */
  private lastArrival = 0;
  /** How long the latest trip took: a partial group gathers at most this long. */
  private tripMs = 0;
  private readonly inFlight = new Map<string, InFlight>();
  private partialInFlight = 0;
  private timer: ClockTimer | undefined;
  /** The queued group has gathered and waits behind partial trips in flight (the timer is its wait bound). */
  private waitingBehind = false;
  private readonly clock: Clock;

  constructor(
    private readonly fetcher: GroupFetcher,
    private readonly options: BatcherOptions,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  async load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const distinct = [...new Set(ids)];
    if (!this.options.coalescing) return this.loadDirect(distinct, canonicalFields(fields));
    const outcomes = await Promise.all(distinct.map((igsid) => this.loadOne(igsid, fields)));
    return new Map(distinct.map((igsid, i) => [igsid, outcomes[i]!]));
  }

  private loadOne(igsid: string, fields: Iterable<GraphField>): Promise<ProfileOutcome> {
    const wanted = new Set(fields);
    const flying = this.inFlight.get(igsid);
    if (flying && [...wanted].every((field) => flying.fields.has(field))) {
      this.coalesced();
      return flying.promise;
    }
    return new Promise((resolve) => {
      const pending = this.queue.get(igsid);
      if (pending) {
        for (const field of wanted) pending.fields.add(field);
        pending.waiters.push(resolve);
        this.coalesced();
      } else {
        this.lastArrival = this.clock.now();
        this.queue.set(igsid, { since: this.lastArrival, fields: wanted, waiters: [resolve] });
      }
      this.schedule();
    });
  }

  private async loadDirect(ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const groups: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_IDS_PER_ROUND_TRIP) groups.push(ids.slice(i, i + MAX_IDS_PER_ROUND_TRIP));
    const results = new Map<string, ProfileOutcome>();
    for (const [i, outcomes] of (await Promise.all(groups.map((group) => this.fetch(group, fields)))).entries()) {
      for (const igsid of groups[i]!) results.set(igsid, outcomes.get(igsid) ?? missingOutcome());
    }
    return results;
  }

  /** One upstream trip that always resolves: a rejecting fetcher answers every id UPSTREAM_ERROR. */
  private async fetch(ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>> {
    try {
      return await this.fetcher.fetchGroup(ids, fields);
    } catch (error) {
      try {
        this.options.onFetchError?.(error);
      } catch {
        // A failing hook must not turn an answered group into a hang.
      }
      return failAll(ids, internalFailure(error));
    }
  }

  private coalesced(): void {
    try {
      this.options.onCoalesced?.();
    } catch {
      // Metrics only: a lookup never fails because a counter did.
    }
  }

  /** A lookup joined the queue: full groups leave now, a partial one once gathered. */
  private schedule(): void {
    while (this.queue.size >= MAX_IDS_PER_ROUND_TRIP) this.send(false);
    // Grown to half a batch while waiting behind a trip: it gathers one more window, then leaves.
    if (this.waitingBehind && this.queue.size >= HALF_GROUP) this.flush();
    if (this.queue.size > 0 && !this.timer) this.wakeAt(this.oldest() + this.options.windowMs);
  }

  /**
   * A timer fired or a trip finished: send the partial group if it has gathered and may go. A timer
   * that fired more than a window late says the process was busy, not that lookups stopped: those
   * waiting to be read get one more window (still within the round-trip bound).
   */
  private flush(late = false): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.waitingBehind = false;
    if (this.queue.size === 0) return;
    const now = this.clock.now();
    const { windowMs, maxPartialWaitMs } = this.options;
    const oldest = this.oldest();
    const bound = oldest + Math.max(windowMs, Math.min(this.tripMs, maxPartialWaitMs));
    const gathered = Math.min(late ? now + windowMs : this.lastArrival + windowMs, bound);
    const waitEnds = oldest + windowMs + maxPartialWaitMs;
    if (now < gathered) this.wakeAt(gathered);
    else if (this.partialInFlight < this.options.maxPartialInFlight || now >= waitEnds || this.queue.size >= HALF_GROUP) this.send(true);
    // Waiting behind partial trips: the first of their end or the wait bound sends it.
    else {
      this.waitingBehind = true;
      this.wakeAt(waitEnds);
    }
  }

  /** When the oldest lookup still queued arrived (the queue is in arrival order). */
  private oldest(): number {
    return this.queue.values().next().value?.since ?? this.clock.now();
  }

  private wakeAt(at: number): void {
    const due = Math.max(at, this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush(this.clock.now() - due > this.options.windowMs);
    }, due - this.clock.now());
  }

  private send(partial: boolean): void {
    const group = new Map<string, Pending>();
    for (const [igsid, pending] of this.queue) {
      if (group.size === MAX_IDS_PER_ROUND_TRIP) break;
      group.set(igsid, pending);
    }
    for (const igsid of group.keys()) this.queue.delete(igsid);

    const fields = canonicalFields([...group.values()].flatMap((pending) => [...pending.fields]));
    const started = this.clock.now();
    const trip = this.fetch([...group.keys()], fields);
    if (partial) this.partialInFlight++;
    const fieldSet = new Set(fields);
    for (const [igsid, pending] of group) {
      const promise = trip.then((outcomes) => outcomes.get(igsid) ?? missingOutcome());
      this.inFlight.set(igsid, { fields: fieldSet, promise });
      void promise.then((outcome) => {
        if (this.inFlight.get(igsid)?.promise === promise) this.inFlight.delete(igsid);
        for (const resolve of pending.waiters) resolve(outcome);
      });
    }
    void trip.then(() => {
      this.tripMs = this.clock.now() - started;
      if (partial) this.partialInFlight--;
      this.flush();
    });
  }
}
