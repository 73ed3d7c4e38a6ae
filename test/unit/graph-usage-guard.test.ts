import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseUsage } from '../../src/graph/usage.js';
import { Metrics } from '../../src/metrics.js';
import { DEFAULT_BLOCK_SECONDS, UsageGuard } from '../../src/graph/usage-guard.js';
import { ManualClock } from '../support/manual-clock.js';

function guardWith(clock: ManualClock, thresholdPercent = 90) {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const blocks: number[] = [];
  const guard = new UsageGuard({ thresholdPercent, clock, logger, label: () => '1784', onBlock: (_reason, seconds) => blocks.push(seconds) });
  return { guard, lines, blocks };
}

const usage = (clock: ManualClock, headers: Record<string, string>, maxWaitSeconds = 3600) =>
  parseUsage(new Headers(headers), { now: clock.now(), maxWaitSeconds });
const throttle = { error: { code: 4, message: 'Application request limit reached' } };

describe('UsageGuard (manual clock)', () => {
  it('a throttling answer pauses for the advertised wait, then calls may go out again', async () => {
    const clock = new ManualClock();
    const { guard } = guardWith(clock);
    guard.observe(400, throttle, usage(clock, { 'retry-after': '90' }));
    expect(guard.remainingSeconds()).toBe(90);
    await clock.advance(89_000);
    expect(guard.remainingSeconds()).toBe(1);
    await clock.advance(1_000);
    expect(guard.remainingSeconds()).toBe(0);
  });

  it('a throttle without a wait pauses for the default; a shorter later wait does not shorten it', async () => {
    const clock = new ManualClock();
    const { guard, blocks } = guardWith(clock);
    guard.observe(400, throttle, usage(clock, {}));
    expect(guard.remainingSeconds()).toBe(DEFAULT_BLOCK_SECONDS);
    guard.observe(400, throttle, usage(clock, { 'retry-after': '5' }));
    expect(guard.remainingSeconds()).toBe(DEFAULT_BLOCK_SECONDS);
    expect(blocks).toEqual([DEFAULT_BLOCK_SECONDS]);
  });

  it('usage past the threshold pauses for the BUC wait; below it nothing pauses', () => {
    const clock = new ManualClock();
    const { guard } = guardWith(clock, 80);
    guard.observe(200, {}, usage(clock, { 'x-app-usage': JSON.stringify({ call_count: 79 }) }));
    expect(guard.remainingSeconds()).toBe(0);
    const buc = JSON.stringify({ '1784': [{ call_count: 85, estimated_time_to_regain_access: 3 }] });
    guard.observe(200, {}, usage(clock, { 'x-business-use-case-usage': buc }));
    expect(guard.remainingSeconds()).toBe(180);
  });

  it('Retry-After: 99999999999 pauses for MAX_UPSTREAM_PAUSE_SECONDS at most, with a log line', () => {
    const clock = new ManualClock();
    const { guard, lines } = guardWith(clock);
    guard.observe(429, {}, usage(clock, { 'retry-after': '99999999999' }, 3600));
    expect(guard.remainingSeconds()).toBe(3600);
    expect(lines.some((line) => line.includes('MAX_UPSTREAM_PAUSE_SECONDS') && line.includes('99999999999'))).toBe(true);
  });
});

describe('usage metrics', () => {
  it('only known usage keys become labels; business ids are bounded', async () => {
    const metrics = new Metrics();
    const clock = new ManualClock();
    const app = JSON.stringify({ call_count: 3, cpu_time: 2, ['junk'.repeat(50)]: 9 });
    const buc = JSON.stringify(Object.fromEntries(Array.from({ length: 550 }, (_, i) => [String(1000 + i), [{ call_count: 1 }]])));
    metrics.recordUsage(usage(clock, { 'x-app-usage': app, 'x-business-use-case-usage': buc }), '1784');
    const text = await metrics.registry.metrics();
    expect(text).toContain('metric="cpu_time"');
    expect(text).not.toContain('junkjunk');
    expect(text.match(/igpg_graph_business_usage_percent\{/g)).toHaveLength(500);
  });
});
