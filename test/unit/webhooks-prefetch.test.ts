import { describe, expect, it } from 'vitest';
import type { ProfileOutcome } from '../../src/graph/outcomes.js';
import { PREFETCH_GROUPS_IN_FLIGHT, PrefetchQueue, type PrefetchDropReason } from '../../src/webhooks/prefetch.js';
import { flushPromises } from '../support/manual-clock.js';

const ids = (n: number, start = 0) => Array.from({ length: n }, (_, i) => String(1784140000100000 + start + i));

/** A queue over a source whose loads finish only when the test says so. */
function harness(queueLimit = 1000) {
  const loads: Array<{ ids: readonly string[]; finish: () => void }> = [];
  const dropped: Partial<Record<PrefetchDropReason, number>> = {};
  let fetched = 0;
  let paused = 0;
  const queue = new PrefetchQueue(
    {
      id: 'acct',
      pausedSeconds: () => paused,
      source: {
        load: (group) =>
          new Promise<Map<string, ProfileOutcome>>((resolve) => {
            loads.push({ ids: group, finish: () => resolve(new Map(group.map((id) => [id, { ok: true, profile: { id } } as unknown as ProfileOutcome]))) });
          }),
      },
    },
    {
      queueLimit,
      onDropped: (reason, count) => void (dropped[reason] = (dropped[reason] ?? 0) + count),
      onFetched: (outcomes) => void (fetched += outcomes.size),
      onError: () => undefined,
    },
  );
  const finishAll = async () => {
    for (const load of loads.splice(0)) load.finish();
    await flushPromises();
  };
  return { queue, loads, dropped, finishAll, fetched: () => fetched, pause: (seconds: number) => void (paused = seconds) };
}

describe('webhook prefetch queue', () => {
  it('sends groups of at most 50, never more than PREFETCH_GROUPS_IN_FLIGHT at once, until the queue is empty', async () => {
    const h = harness();
    h.queue.enqueue(ids(420));
    let groups = 0;
    while (h.loads.length > 0) {
      expect(h.loads.length).toBeLessThanOrEqual(PREFETCH_GROUPS_IN_FLIGHT);
      expect(h.loads.every((load) => load.ids.length <= 50)).toBe(true);
      groups += h.loads.length;
      await h.finishAll();
    }
    expect(groups).toBe(Math.ceil(420 / 50));
    expect(h.fetched()).toBe(420);
    await h.queue.idle();
  });

  it('holds at most queueLimit waiting ids and counts the rest as queue_full; an id already waiting is not counted twice', async () => {
    const h = harness(100);
    h.queue.enqueue(ids(130));
    expect(h.dropped).toEqual({ queue_full: 30 });
    // Two groups left at once (those 100 ids), so 100 more fit in the queue.
    expect(h.loads).toHaveLength(2);
    h.queue.enqueue(ids(300, 1000));
    expect(h.dropped).toEqual({ queue_full: 30 + 200 });
    h.queue.enqueue(ids(10, 1000));
    expect(h.dropped).toEqual({ queue_full: 30 + 200 });
  });

  it('sends nothing while the account is paused: the waiting ids are dropped and counted', async () => {
    const h = harness();
    h.pause(30);
    h.queue.enqueue(ids(120));
    expect(h.loads).toHaveLength(0);
    expect(h.dropped).toEqual({ paused: 120 });

    // A pause that starts while groups are in flight stops the rest.
    h.pause(0);
    h.queue.enqueue(ids(500, 1000));
    expect(h.loads).toHaveLength(PREFETCH_GROUPS_IN_FLIGHT);
    h.pause(60);
    await h.finishAll();
    expect(h.loads).toHaveLength(0);
    expect(h.dropped).toEqual({ paused: 120 + 500 - PREFETCH_GROUPS_IN_FLIGHT * 50 });
    await h.queue.idle();
  });

  it('close() drops what waits (shutdown), lets the groups in flight finish, and refuses new ids', async () => {
    const h = harness();
    h.queue.enqueue(ids(200));
    let closed = false;
    const closing = h.queue.close().then(() => (closed = true));
    expect(h.dropped).toEqual({ shutdown: 200 - PREFETCH_GROUPS_IN_FLIGHT * 50 });
    await flushPromises();
    expect(closed).toBe(false);
    await h.finishAll();
    await closing;
    h.queue.enqueue(ids(5, 5000));
    expect(h.loads).toHaveLength(0);
    expect(h.dropped.shutdown).toBe(200 - PREFETCH_GROUPS_IN_FLIGHT * 50 + 5);
  });

  it('keeps going after a load that fails', async () => {
    const failures: unknown[] = [];
    let calls = 0;
    const queue = new PrefetchQueue(
      { id: 'acct', pausedSeconds: () => 0, source: { load: async () => (calls++ === 0 ? Promise.reject(new Error('boom')) : new Map()) } },
      { queueLimit: 1000, onDropped: () => undefined, onFetched: () => undefined, onError: (error) => void failures.push(error) },
    );
    queue.enqueue(ids(150));
    await queue.idle();
    expect(calls).toBe(3);
    expect(failures).toHaveLength(1);
  });
});
