import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { GraphResponse } from '../../src/graph/client.js';
import { UpstreamGate } from '../../src/graph/gate.js';
import { Slots } from '../../src/graph/slots.js';
import type { UsageReport } from '../../src/graph/usage.js';
import { UsageGuard } from '../../src/graph/usage-guard.js';
import { ManualClock, flushPromises } from '../support/manual-clock.js';

const NO_USAGE: UsageReport = { app: {}, business: [], percent: undefined, waitSeconds: undefined };
const logger = pino({ enabled: false });
const limits = { max: 1, queueLimit: 10, maxWaitMs: 1000 };

function gateWith(clock: ManualClock, shared: Slots) {
  const guard = new UsageGuard({ thresholdPercent: 90, clock, logger, label: () => 'a' });
  return new UpstreamGate({ guard, slots: [new Slots(limits, clock), shared], clock, maxWaitSeconds: 3600 });
}

/** A call the test finishes by hand. */
function pending() {
  let finish!: (answer: GraphResponse) => void;
  let started = false;
  const call = () => {
    started = true;
    return new Promise<GraphResponse>((resolve) => (finish = resolve));
  };
  return { call, finish: (answer: GraphResponse) => finish(answer), started: () => started };
}

const ok: GraphResponse = { status: 200, headers: new Headers(), body: {}, usage: NO_USAGE };
const throttled: GraphResponse = { status: 400, headers: new Headers(), body: { error: { code: 4 } }, usage: { ...NO_USAGE, waitSeconds: 30 } };

describe('UpstreamGate', () => {
  it('a throttling answer pauses the account as it arrives: a call queued behind it is not sent', async () => {
    const clock = new ManualClock();
    const gate = gateWith(clock, new Slots({ ...limits, max: 10 }, clock));
    const first = pending();
    const second = pending();
    const sentFirst = gate.send(1, first.call);
    const sentSecond = gate.send(1, second.call);
    await flushPromises();
    expect(first.started()).toBe(true);
    expect(second.started()).toBe(false);
    first.finish(throttled);
    expect(await sentFirst).toHaveProperty('answer');
    expect(await sentSecond).toMatchObject({ failure: { code: 'RATE_LIMITED', retryAfterSeconds: 30 } });
    expect(second.started()).toBe(false);
    expect(gate.pausedSeconds()).toBe(30);
    await clock.advance(30_000);
    expect(gate.pausedSeconds()).toBe(0);
  });

  it('the process-wide slots bound two accounts together', async () => {
    const clock = new ManualClock();
    const shared = new Slots({ max: 1, queueLimit: 0, maxWaitMs: 1000 }, clock);
    const a = gateWith(clock, shared);
    const b = gateWith(clock, shared);
    const inFlight = pending();
    const sentA = a.send(1, inFlight.call);
    await flushPromises();
    const other = pending();
    expect(await b.send(1, other.call)).toMatchObject({ failure: { code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('UPSTREAM_QUEUE_LIMIT') } });
    expect(other.started()).toBe(false);
    inFlight.finish(ok);
    await sentA;
    expect(await b.send(1, async () => ok)).toHaveProperty('answer');
  });

  it('a call waiting longer than UPSTREAM_QUEUE_WAIT_MS for a slot is shed', async () => {
    const clock = new ManualClock();
    const gate = gateWith(clock, new Slots({ ...limits, max: 10 }, clock));
    const first = pending();
    void gate.send(1, first.call);
    const waiting = gate.send(1, async () => ok);
    await clock.advance(1000);
    expect(await waiting).toMatchObject({ failure: { code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('UPSTREAM_QUEUE_WAIT_MS') } });
    first.finish(ok);
  });
});
