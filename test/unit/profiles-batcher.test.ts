import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProfileBatcher, type BatcherOptions, type GroupFetcher } from '../../src/profiles/batcher.js';
import type { GraphField } from '../../src/graph/profile.js';
import type { ProfileOutcome } from '../../src/graph/outcomes.js';
import { ManualClock } from '../support/manual-clock.js';

const FIELDS: GraphField[] = ['name'];
const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => String(from + i));

/** A fetcher whose answers the test releases by hand; `next` says how the next call behaves. */
class FakeFetcher implements GroupFetcher {
  readonly calls: Array<{ ids: string[]; fields: GraphField[] }> = [];
  next: Array<'answer' | 'reject' | 'hang'> = [];
  async fetchGroup(ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>> {
    this.calls.push({ ids, fields });
    const mode = this.next.shift() ?? 'answer';
    if (mode === 'reject') throw new TypeError('strategy bug');
    if (mode === 'hang') return new Promise(() => undefined);
    return new Map(ids.map((id) => [id, { ok: true, profile: { id, name: `n${id}` } }]));
  }
}

let clock: ManualClock;
let fetcher: FakeFetcher;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  clock = new ManualClock();
  fetcher = new FakeFetcher();
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

function batcher(options: Partial<BatcherOptions> = {}): ProfileBatcher {
  return new ProfileBatcher(fetcher, { coalescing: true, windowMs: 2, maxPartialInFlight: 1, maxPartialWaitMs: 1000, clock, ...options });
}

/** Settles `promise` into a value the test can inspect without awaiting forever. */
function track<T>(promise: Promise<T>): { value?: T; error?: unknown } {
  const state: { value?: T; error?: unknown } = {};
  promise.then(
    (value) => (state.value = value),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describe('ProfileBatcher', () => {
  it('a partial group leaves when its window ends, sharing one trip', async () => {
    const b = batcher();
    const first = track(b.load(['1', '2'], FIELDS));
    const second = track(b.load(['2', '3'], ['username']));
    await clock.advance(1);
    expect(fetcher.calls).toHaveLength(0);
    await clock.advance(1);
    expect(fetcher.calls).toEqual([{ ids: ['1', '2', '3'], fields: ['name', 'username'] }]);
    expect(first.value?.get('2')).toMatchObject({ ok: true });
    expect([...second.value!.keys()]).toEqual(['2', '3']);
  });

  it('a full group of 50 leaves at once', async () => {
    const b = batcher();
    const answer = track(b.load(ids(120), FIELDS));
    await clock.advance(0);
    expect(fetcher.calls.map((call) => call.ids.length)).toEqual([50, 50]);
    await clock.advance(2);
    expect(fetcher.calls.map((call) => call.ids.length)).toEqual([50, 50, 20]);
    expect(answer.value?.size).toBe(120);
  });

  it('a rejecting fetch answers every waiter UPSTREAM_ERROR, raises no unhandled rejection, and the next lookup works', async () => {
    const b = batcher();
    fetcher.next = ['reject'];
    const first = track(b.load(['1', '2'], FIELDS));
    const again = track(b.load(['1'], FIELDS));
    await clock.advance(2);
    expect(first.value?.get('1')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR', retryable: true } });
    expect(first.value?.get('1')).not.toHaveProperty('failure.message', expect.stringContaining('strategy bug'));
    expect(again.value?.get('1')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
    // Counters restored: the same account's next partial group is not held behind a phantom trip.
    const later = track(b.load(['1', '4'], FIELDS));
    await clock.advance(2);
    expect(later.value?.get('1')).toMatchObject({ ok: true });
    expect(later.value?.get('4')).toMatchObject({ ok: true });
    expect(unhandled).toEqual([]);
  });

  it('a throwing hook never leaves a waiter unanswered', async () => {
    const b = batcher({
      onCoalesced: () => {
        throw new Error('metrics broke');
      },
      onFetchError: () => {
        throw new Error('logger broke');
      },
    });
    fetcher.next = ['reject'];
    const first = track(b.load(['1'], FIELDS));
    const joined = track(b.load(['1'], FIELDS));
    await clock.advance(2);
    expect(first.value?.get('1')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
    expect(joined.value?.get('1')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
    const next = track(b.load(['1'], FIELDS));
    await clock.advance(2);
    expect(next.value?.get('1')).toMatchObject({ ok: true });
    expect(unhandled).toEqual([]);
  });

  it('a hung trip holds the next partial group back at most maxPartialWaitMs (issue 10 item 5)', async () => {
    const b = batcher({ maxPartialWaitMs: 1000 });
    fetcher.next = ['hang'];
    track(b.load(['1'], FIELDS));
    await clock.advance(2);
    const unrelated = track(b.load(['9'], FIELDS));
    await clock.advance(500);
    // Group commit: behind an in-flight partial trip, the next group keeps collecting.
    expect(fetcher.calls).toHaveLength(1);
    await clock.advance(502);
    expect(fetcher.calls.map((call) => call.ids)).toEqual([['1'], ['9']]);
    expect(unrelated.value?.get('9')).toMatchObject({ ok: true });
  });

  it('a partial group leaves as soon as the trip ahead of it returns', async () => {
    let release: (() => void) | undefined;
    const slow: GroupFetcher = {
      fetchGroup: (group) =>
        new Promise((resolve) => {
          fetcher.calls.push({ ids: group, fields: FIELDS });
          release = () => resolve(new Map(group.map((id) => [id, { ok: true, profile: { id } }])));
        }),
    };
    const slowBatcher = new ProfileBatcher(slow, { coalescing: true, windowMs: 2, maxPartialInFlight: 1, maxPartialWaitMs: 1000, clock });
    track(slowBatcher.load(['1'], FIELDS));
    await clock.advance(2);
    const queued = track(slowBatcher.load(['2', '3'], FIELDS));
    await clock.advance(100);
    expect(fetcher.calls).toHaveLength(1);
    release!();
    await clock.advance(0);
    expect(fetcher.calls.map((call) => call.ids)).toEqual([['1'], ['2', '3']]);
    release!();
    await clock.advance(0);
    expect(queued.value?.size).toBe(2);
  });

  it('without coalescing, each load goes straight up in groups of at most 50, and a rejection is still an answer', async () => {
    const b = batcher({ coalescing: false });
    fetcher.next = ['answer', 'reject'];
    const answer = track(b.load([...ids(70), '1'], FIELDS));
    await clock.advance(0);
    expect(fetcher.calls.map((call) => call.ids.length)).toEqual([50, 20]);
    expect(answer.value?.size).toBe(70);
    expect(answer.value?.get('1')).toMatchObject({ ok: true });
    expect(answer.value?.get('70')).toMatchObject({ ok: false, failure: { code: 'UPSTREAM_ERROR' } });
    expect(unhandled).toEqual([]);
  });
});

/** A fetcher answering each trip `ms` later on the test's clock, recording when each trip left. */
function timedFetcher(ms: number): GroupFetcher & { trips: Array<{ at: number; size: number }> } {
  const trips: Array<{ at: number; size: number }> = [];
  return {
    trips,
    fetchGroup: (group) => {
      trips.push({ at: clock.now(), size: group.length });
      return new Promise((resolve) => clock.setTimeout(() => resolve(new Map(group.map((id) => [id, { ok: true, profile: { id } }]))), ms));
    },
  };
}

describe('ProfileBatcher dispatch under bursts (issue 16, P2)', () => {
  const options = { coalescing: true, windowMs: 2, maxPartialInFlight: 1, maxPartialWaitMs: 1000 } as const;

  /** One lookup and its 40 ms trip: the batcher has measured a round trip. */
  async function warm(b: ProfileBatcher): Promise<void> {
    track(b.load(['0'], FIELDS));
    await clock.advance(2 + 40);
  }

  /** A batcher over 40 ms trips that has measured one; `trips` starts empty. */
  async function warmed() {
    const trips = timedFetcher(40);
    const b = new ProfileBatcher(trips, { ...options, clock });
    await warm(b);
    trips.trips.length = 0;
    return { trips, b };
  }

  /** Lookups join one by one, `gapMs` apart, as requests reach the batcher in a burst. */
  async function arrive(b: ProfileBatcher, lookups: string[], gapMs: number) {
    const answers: Array<ReturnType<typeof track<Map<string, ProfileOutcome>>>> = [];
    for (const id of lookups) {
      answers.push(track(b.load([id], FIELDS)));
      await clock.advance(gapMs);
    }
    return answers;
  }

  it('200 lookups arriving 0.25 ms apart fill 4 whole groups; the last leaves one window after the last lookup', async () => {
    const { trips, b } = await warmed();
    const answers = await arrive(b, ids(200, 1000), 0.25);
    const last = clock.now();
    await clock.advance(100);
    expect(trips.trips.map((trip) => trip.size)).toEqual([50, 50, 50, 50]);
    expect(trips.trips.at(-1)!.at).toBeLessThanOrEqual(last + 2);
    expect(answers.every((answer) => answer.value?.size === 1)).toBe(true);
  });

  it('an idle lookup still leaves after one window, and a steady trickle gathers at most one round trip', async () => {
    const trips = timedFetcher(40);
    const b = new ProfileBatcher(trips, { ...options, clock });
    await warm(b);
    // Left one window after it arrived, answered 40 ms later.
    expect(trips.trips).toEqual([{ at: clock.now() - 40, size: 1 }]);
    trips.trips.length = 0;
    const start = clock.now();
    // One lookup a millisecond for 200 ms: never quiet for a window, never 50 in one round trip.
    for (let i = 0; i < 200; i++) {
      track(b.load([String(5000 + i)], FIELDS));
      await clock.advance(1);
    }
    await clock.advance(100);
    expect(trips.trips[0]!.at - start).toBeLessThanOrEqual(40);
    // Behind the partial trip in flight the next groups keep gathering: a few trips, not 200.
    expect(trips.trips.length).toBeLessThanOrEqual(7);
    expect(trips.trips.reduce((sum, trip) => sum + trip.size, 0)).toBe(200);
  });

  it('a burst tail of half a group or more does not wait behind a partial trip that a pause sent ahead of it', async () => {
    // Seen in the bench (P2, a busy process): 150 lookups, then 2, then a pause longer than a window
    // sent those 2 as a partial trip; the 48 after them waited for that trip, 40 ms for nothing.
    const { trips, b } = await warmed();
    const answers = await arrive(b, ids(152, 1000), 0.25);
    await clock.advance(5);
    answers.push(...(await arrive(b, ids(48, 2000), 0.25)));
    const last = clock.now();
    await clock.advance(100);
    expect(trips.trips.map((trip) => trip.size)).toEqual([50, 50, 50, 2, 48]);
    expect(trips.trips.at(-1)!.at).toBeLessThanOrEqual(last + 2);
    expect(answers.every((answer) => answer.value?.size === 1)).toBe(true);
    // A small tail still waits for the trip ahead (sparse lookups share trips): 2, then 24 that wait;
    // the 25th makes the waiting group half a batch, and it leaves one window later, long before the
    // trip ahead of it returns.
    trips.trips.length = 0;
    track(b.load(['3000', '3001'], FIELDS));
    await clock.advance(5);
    for (const id of ids(24, 4000)) track(b.load([id], FIELDS));
    await clock.advance(20);
    expect(trips.trips.map((trip) => trip.size)).toEqual([2]);
    track(b.load(['5000'], FIELDS));
    const twentyFifth = clock.now();
    await clock.advance(2);
    expect(trips.trips.map((trip) => trip.size)).toEqual([2, 25]);
    expect(trips.trips[1]!.at - twentyFifth).toBeLessThanOrEqual(2);
  });

  it('a timer that fires late (a busy process) does not send a lone lookup: the lookups read meanwhile join it', async () => {
    const trips = timedFetcher(40);
    // Timers fire `lag` ms after they fall due, as in a process busy parsing a burst of requests.
    let lag = 0;
    const laggy = { now: () => clock.now() + lag, setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const b = new ProfileBatcher(trips, { ...options, clock: laggy });
    await warm(b);
    trips.trips.length = 0;
    track(b.load(['1'], FIELDS));
    lag = 10;
    await clock.advance(2);
    expect(trips.trips).toEqual([]);
    for (const id of ids(49, 2)) track(b.load([id], FIELDS));
    await clock.advance(0);
    expect(trips.trips.map((trip) => trip.size)).toEqual([50]);
  });
});
