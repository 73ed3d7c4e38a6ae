import type { ProfileFetcher } from '../graph/fetcher.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from './source.js';
import { canonicalFields, type GraphField } from '../graph/profile.js';
import { type ProfileOutcome, missingOutcome } from '../graph/outcomes.js';

interface Pending {
  fields: Set<GraphField>;
  waiters: Array<(outcome: ProfileOutcome) => void>;
}

interface InFlight {
  fields: ReadonlySet<GraphField>;
  promise: Promise<ProfileOutcome>;
}

export interface BatcherOptions {
  /** How long a partly filled group waits for company before it leaves. */
  windowMs: number;
  /** Partly filled groups allowed in flight at once; full groups always leave at once. */
  maxPartialInFlight: number;
  onCoalesced?: () => void;
}

/**
 * Process-wide, per account: lookups from concurrent GraphQL requests join the same upstream
 * round trip (group commit), and concurrent lookups of one id share one fetch (single-flight).
 *
 * A group leaves as soon as it holds 50 ids. A partial group leaves after `windowMs`, or later
 * while `maxPartialInFlight` partial groups are already out: under load the queue keeps filling
 * while trips are in flight, so groups fill themselves; idle, a lookup waits one window.
 */
export class UpstreamBatcher implements ProfileSource {
  private queue = new Map<string, Pending>();
  private readonly inFlight = new Map<string, InFlight>();
  private partialInFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fetcher: ProfileFetcher,
    private readonly options: BatcherOptions,
  ) {}

  async load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const distinct = [...new Set(ids)];
    const outcomes = await Promise.all(distinct.map((igsid) => this.loadOne(igsid, fields)));
    return new Map(distinct.map((igsid, i) => [igsid, outcomes[i]!]));
  }

  loadOne(igsid: string, fields: Iterable<GraphField>): Promise<ProfileOutcome> {
    const wanted = new Set(fields);
    const flying = this.inFlight.get(igsid);
    if (flying && [...wanted].every((field) => flying.fields.has(field))) {
      this.options.onCoalesced?.();
      return flying.promise;
    }
    return new Promise((resolve) => {
      const pending = this.queue.get(igsid);
      if (pending) {
        this.options.onCoalesced?.();
        for (const field of wanted) pending.fields.add(field);
        pending.waiters.push(resolve);
      } else {
        this.queue.set(igsid, { fields: wanted, waiters: [resolve] });
      }
      this.schedule();
    });
  }

  private schedule(): void {
    while (this.queue.size >= MAX_IDS_PER_ROUND_TRIP) this.send(false);
    if (this.queue.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.queue.size > 0 && this.partialInFlight < this.options.maxPartialInFlight) this.send(true);
      // Still waiting behind partial trips: a finishing trip reschedules.
    }, this.options.windowMs);
  }

  private send(partial: boolean): void {
    const group = new Map<string, Pending>();
    for (const [igsid, pending] of this.queue) {
      if (group.size === MAX_IDS_PER_ROUND_TRIP) break;
      group.set(igsid, pending);
    }
    for (const igsid of group.keys()) this.queue.delete(igsid);

    const fields = canonicalFields([...group.values()].flatMap((pending) => [...pending.fields]));
    const ids = [...group.keys()];
    // Never rejects: the fetcher answers every id, even when a strategy fails unexpectedly.
    const trip = this.fetcher.fetchGroup(ids, fields);
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
      if (partial) this.partialInFlight--;
      this.schedule();
    });
  }
}
