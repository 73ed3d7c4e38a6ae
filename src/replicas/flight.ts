import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { canonicalFields, type GraphField } from '../graph/profile.js';
import type { ProfileOutcome } from '../graph/outcomes.js';
import type { Metrics } from '../metrics.js';
import { MAX_IDS_PER_ROUND_TRIP, type ProfileSource } from '../profiles/source.js';
import type { ReplicaLink } from './link.js';
import { doneSchema, flightFailureSchema, type BusMessage, type FlightOutcome } from './messages.js';

/** Ids this process may hold leases on, and wait for, at once; beyond either it fetches uncoordinated. */
export const MAX_LEASES = 10_000;
export const MAX_WAITING = 10_000;

/**
 * How long a finished trip's answer stays on its lease key: a replica that missed the cache just
 * before the holder wrote it takes the answer from there instead of asking Meta again.
 */
export const DONE_MS = 2000;

/**
 * Turns the leases still ours into their answers (ARGV[4+i], kept DONE_MS; none: deleted) and
 * announces them, atomically: a waiter either hears them or finds them on the key.
 */
const RELEASE = `
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    local done = ARGV[4 + i]
    if done == '' then redis.call('DEL', key) else redis.call('SET', key, done, 'PX', ARGV[4]) end
  end
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1`;
const RENEW = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 1`;

interface Waiter {
  fields: readonly GraphField[];
  resolve(outcome: ProfileOutcome | undefined): void;
}

export interface SharedFlightOptions {
  /** The business account id (in bus messages). */
  account: string;
  /** `<CACHE_KEY_PREFIX>:<account>`: leases live at `<namespace>:lease:<igsid>`. */
  namespace: string;
  leaseMs: number;
  waitMs: number;
  metrics: Metrics;
  clock?: Clock;
}

/**
 * Cross-replica single-flight, between the cache and the account's batcher. Before fetching ids
 * from Meta this process claims each in Redis (SET NX PX, renewed every third of the lease while
 * the trip runs). Ids another replica holds are not fetched: their answers arrive on the bus when
 * that replica is done, or after REPLICA_WAIT_MS this process fetches them itself, so a dead
 * replica costs one wait, never an outage. Without Redis everything goes straight to the batcher.
 */
export class SharedFlight implements ProfileSource {
  /** Ids this process holds a lease on → lookups using it. */
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();
  private waiterCount = 0;
  private renewTimer: ClockTimer | undefined;
  private readonly clock: Clock;

  constructor(
    private readonly inner: ProfileSource,
    private readonly link: ReplicaLink,
    private readonly options: SharedFlightOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    link.onMessage((message) => this.hear(message));
  }

  async load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const distinct = [...new Set(ids)];
    if (!this.link.ready()) {
      this.count('uncoordinated', distinct.length);
      return this.inner.load(distinct, fields);
    }
    // Ids this process already fetches join its own batcher (which coalesces them locally).
    const local = distinct.filter((igsid) => this.held.has(igsid));
    const candidates = distinct.filter((igsid) => !this.held.has(igsid)).slice(0, Math.max(0, MAX_LEASES - this.held.size));
    const overflow = distinct.filter((igsid) => !this.held.has(igsid)).slice(candidates.length);
    // Listen before claiming: an answer announced between a failed claim and the wait is not missed.
    const waits = new Map(candidates.map((igsid) => [igsid, this.waitFor(igsid, fields)]));
    const claims = await this.claim(candidates, fields);
    const mine: string[] = [...local, ...overflow];
    const others: string[] = [];
    const done = new Map<string, ProfileOutcome>();
    candidates.forEach((igsid, i) => {
      const claim = claims?.[i];
      if (claim === false) others.push(igsid);
      else if (claim && claim !== true) {
        waits.get(igsid)!.cancel();
        done.set(igsid, claim);
      } else {
        waits.get(igsid)!.cancel();
        mine.push(igsid);
      }
    });
    if (!claims) this.count('uncoordinated', candidates.length);
    const claimed = candidates.filter((_, i) => claims?.[i] === true);
    const [own, shared] = await Promise.all([
      this.fetchOwn(mine, claimed, fields),
      Promise.all(others.map((igsid) => waits.get(igsid)!.promise)),
    ]);
    const results = new Map([...own, ...done]);
    this.count('shared', done.size);
    const fallback: string[] = [];
    others.forEach((igsid, i) => {
      const outcome = shared[i];
      if (outcome) results.set(igsid, outcome);
      else fallback.push(igsid);
    });
    if (shared.length - fallback.length > 0) this.count('shared', shared.length - fallback.length);
    if (fallback.length) for (const [igsid, outcome] of await this.inner.load(fallback, fields)) results.set(igsid, outcome);
    return results;
  }

  /** Fetches `ids` through the batcher; renews the leases on `claimed` meanwhile, then releases them with the answers. */
  private async fetchOwn(ids: string[], claimed: string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    if (!ids.length) return new Map();
    const leased = new Set(claimed);
    for (const igsid of ids.filter((id) => leased.has(id) || this.held.has(id))) this.held.set(igsid, (this.held.get(igsid) ?? 0) + 1);
    this.scheduleRenewal();
    let outcomes = new Map<string, ProfileOutcome>();
    try {
      outcomes = await this.inner.load(ids, fields);
      return outcomes;
    } finally {
      const released: string[] = [];
      for (const igsid of ids) {
        const users = this.held.get(igsid);
        if (users === undefined) continue;
        if (users > 1) this.held.set(igsid, users - 1);
        else {
          this.held.delete(igsid);
          released.push(igsid);
        }
      }
      if (!this.held.size && this.renewTimer) {
        this.clock.clearTimeout(this.renewTimer);
        this.renewTimer = undefined;
      }
      void this.release(released, outcomes, fields);
    }
  }

  /**
   * SET NX PX (and GET) per id: true claimed; false another replica is fetching it; its answer when
   * a trip just finished with the fields asked; undefined when Redis did not answer.
   */
  private async claim(ids: string[], fields: readonly GraphField[]): Promise<Array<boolean | ProfileOutcome> | undefined> {
    if (!ids.length) return [];
    const token = this.link.id;
    const replies = await this.link.run((redis) => {
      const multi = redis.multi();
      for (const igsid of ids) multi.set(this.leaseKey(igsid), token, { NX: true, PX: this.options.leaseMs }).get(this.leaseKey(igsid));
      return multi.exec();
    });
    if (!replies) return undefined;
    const claims = ids.map((_, i) => {
      if ((replies[2 * i] as unknown) === 'OK') return true;
      const value = replies[2 * i + 1] as unknown;
      return (typeof value === 'string' && this.doneAnswer(value, fields)) || false;
    });
    this.count('claimed', claims.filter((claim) => claim === true).length);
    return claims;
  }

  /** A finished trip's answer left on a lease key, if it covers `fields`. */
  private doneAnswer(value: string, fields: readonly GraphField[]): ProfileOutcome | undefined {
    if (!value.startsWith('{')) return undefined;
    let parsed: ReturnType<typeof doneSchema.safeParse>;
    try {
      parsed = doneSchema.safeParse(JSON.parse(value));
    } catch {
      return undefined;
    }
    if (!parsed.success) return undefined;
    const { outcome } = parsed.data;
    const covered = !outcome.ok || fields.every((field) => parsed.data.fields.includes(field));
    return covered ? fromMessage(outcome) : undefined;
  }

  private async release(ids: string[], outcomes: Map<string, ProfileOutcome>, fields: readonly GraphField[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_IDS_PER_ROUND_TRIP) {
      const part = ids.slice(i, i + MAX_IDS_PER_ROUND_TRIP);
      const announced = part.flatMap((igsid) => {
        const outcome = outcomes.get(igsid);
        const message = outcome && toMessage(outcome);
        return message ? [{ id: igsid, outcome: message }] : [];
      });
      const text = JSON.stringify({ t: 'flight', from: this.link.id, account: this.options.account, fields: canonicalFields(fields), outcomes: announced });
      const keys = part.map((igsid) => this.leaseKey(igsid));
      const doneValues = part.map((igsid) => {
        const outcome = announced.find((entry) => entry.id === igsid)?.outcome;
        return outcome ? JSON.stringify({ fields: canonicalFields(fields), outcome }) : '';
      });
      const args = [this.link.id, this.link.busChannel, announced.length ? text : '', String(DONE_MS), ...doneValues];
      // A failed release only leaves leases to lapse: their waiters fetch after REPLICA_WAIT_MS.
      await this.link.run((redis) => redis.eval(RELEASE, { keys, arguments: args }));
    }
  }

  private scheduleRenewal(): void {
    if (this.renewTimer) return;
    this.renewTimer = this.clock.setTimeout(() => {
      this.renewTimer = undefined;
      const keys = [...this.held.keys()].map((igsid) => this.leaseKey(igsid));
      if (!keys.length) return;
      this.scheduleRenewal();
      void this.link.run((redis) => redis.eval(RENEW, { keys, arguments: [this.link.id, String(this.options.leaseMs)] }));
    }, Math.max(1, Math.floor(this.options.leaseMs / 3)));
  }

  private waitFor(igsid: string, fields: readonly GraphField[]): { promise: Promise<ProfileOutcome | undefined>; cancel(): void } {
    if (this.waiterCount >= MAX_WAITING) return { promise: Promise.resolve(undefined), cancel: () => undefined };
    let waiter!: Waiter;
    let timer: ClockTimer | undefined;
    const promise = new Promise<ProfileOutcome | undefined>((resolve) => {
      waiter = {
        fields,
        resolve: (outcome) => {
          if (timer) this.clock.clearTimeout(timer);
          this.remove(igsid, waiter);
          resolve(outcome);
        },
      };
    });
    const list = this.waiting.get(igsid) ?? [];
    list.push(waiter);
    this.waiting.set(igsid, list);
    this.waiterCount++;
    timer = this.clock.setTimeout(() => {
      timer = undefined;
      this.count('wait_timeout', 1);
      waiter.resolve(undefined);
    }, this.options.waitMs);
    return { promise, cancel: () => waiter.resolve(undefined) };
  }

  private remove(igsid: string, waiter: Waiter): void {
    const list = this.waiting.get(igsid);
    const index = list?.indexOf(waiter) ?? -1;
    if (!list || index < 0) return;
    list.splice(index, 1);
    this.waiterCount--;
    if (!list.length) this.waiting.delete(igsid);
  }

  private hear(message: BusMessage): void {
    if (message.t !== 'flight' || message.account !== this.options.account) return;
    const fetched = new Set(message.fields);
    for (const { id, outcome } of message.outcomes) {
      for (const waiter of [...(this.waiting.get(id) ?? [])]) {
        // An answer with fewer fields than asked is no answer: the waiter fetches what it needs.
        const covered = !outcome.ok || waiter.fields.every((field) => fetched.has(field));
        if (!covered) this.count('not_covered', 1);
        waiter.resolve(covered ? fromMessage(outcome) : undefined);
      }
    }
  }

  private leaseKey(igsid: string): string {
    return `${this.options.namespace}:lease:${igsid}`;
  }

  private count(event: string, n: number): void {
    if (n > 0) this.options.metrics.replicaEvents.inc({ event }, n);
  }
}

/** The outcome as announced; undefined for a failure no replica could take (its waiters fetch themselves). */
export function toMessage(outcome: ProfileOutcome): FlightOutcome | undefined {
  if (!outcome.ok) {
    const parsed = flightFailureSchema.safeParse(outcome.failure);
    return parsed.success ? { ok: false, failure: parsed.data } : undefined;
  }
  const { freshUntil: _internal, ...profile } = outcome.profile;
  return { ok: true, profile, ...(outcome.invalid ? { invalid: outcome.invalid } : {}) };
}

export function fromMessage(outcome: FlightOutcome): ProfileOutcome {
  return outcome.ok ? { ok: true, profile: outcome.profile, ...(outcome.invalid ? { invalid: outcome.invalid } : {}) } : { ok: false, failure: outcome.failure };
}
