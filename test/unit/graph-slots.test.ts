import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/graph/slots.js';
import { ManualClock, flushPromises } from '../support/manual-clock.js';

describe('Slots (bounded concurrency, bounded queue, bounded wait)', () => {
  it('holds at most `max`; a released slot passes to the first waiter', async () => {
    const clock = new ManualClock();
    const slots = new Slots({ max: 2, queueLimit: 5, maxWaitMs: 1000 }, clock);
    expect(await slots.acquire()).toBeNull();
    expect(await slots.acquire()).toBeNull();
    let third: string | null | undefined;
    void slots.acquire().then((result) => (third = result));
    await flushPromises();
    expect(third).toBeUndefined();
    slots.release();
    await flushPromises();
    expect(third).toBeNull();
    expect(slots.inFlight).toBe(2);
    expect(clock.pending).toBe(0);
  });

  it('sheds at once beyond the queue limit, and after the longest wait', async () => {
    const clock = new ManualClock();
    const slots = new Slots({ max: 1, queueLimit: 1, maxWaitMs: 500 }, clock);
    await slots.acquire();
    const waiting = slots.acquire();
    expect(await slots.acquire()).toBe('queue_full');
    await clock.advance(500);
    expect(await waiting).toBe('wait_timeout');
    slots.release();
    expect(slots.inFlight).toBe(0);
  });

});
