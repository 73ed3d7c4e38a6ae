import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { failAll, networkFailure, type ProfileOutcome } from '../../src/graph/outcomes.js';
import { AutoStrategy, PRESUMED_REFUSAL_STREAK } from '../../src/graph/strategies/auto.js';
import { BatchApiRefused, type FetchStrategy } from '../../src/graph/strategies/types.js';
import { ManualClock } from '../support/manual-clock.js';

const logger = pino({ enabled: false });
const served = (ids: readonly string[]) => new Map<string, ProfileOutcome>(ids.map((id) => [id, { ok: true, profile: { id } }]));

/** A fake strategy whose next answers a test scripts; it counts its calls. */
function scripted(name: 'batch' | 'single', answer: (ids: readonly string[]) => Map<string, ProfileOutcome>) {
  const strategy = {
    name,
    calls: 0,
    answer,
    async fetch(ids: readonly string[]) {
      strategy.calls++;
      return strategy.answer(ids);
    },
  };
  return strategy satisfies FetchStrategy;
}

const outage = () => {
  throw new BatchApiRefused('Batch API refused (HTTP 500)', networkFailure('HTTP 500'));
};

describe('AutoStrategy (manual clock)', () => {
  it('a lone batch 5xx is an outage: the group fails transiently, nothing switches, per-object reads are not tried', async () => {
    const clock = new ManualClock();
    const batch = scripted('batch', outage);
    const single = scripted('single', served);
    const auto = new AutoStrategy(batch, single, 300_000, clock, logger);
    const outcomes = await auto.fetch(['1', '2'], []);
    expect([...outcomes.values()].every((outcome) => !outcome.ok && outcome.failure.transient)).toBe(true);
    batch.answer = served;
    await auto.fetch(['3'], []);
    expect(auto.name).toBe('batch');
    expect(single.calls).toBe(0);
  });

  it('batch 5xx in a row, then per-object reads of the same ids work: switch, then re-probe after GRAPH_REPROBE_SECONDS', async () => {
    const clock = new ManualClock();
    const batch = scripted('batch', outage);
    const single = scripted('single', served);
    const auto = new AutoStrategy(batch, single, 300_000, clock, logger);
    for (let i = 1; i < PRESUMED_REFUSAL_STREAK; i++) await auto.fetch(['1'], []);
    expect(single.calls).toBe(0);
    const outcomes = await auto.fetch(['1'], []);
    expect(outcomes.get('1')?.ok).toBe(true);
    expect(auto.name).toBe('single');
    await clock.advance(299_000);
    expect(auto.name).toBe('single');
    await clock.advance(1_000);
    expect(auto.name).toBe('batch');
  });

  it('a success between 5xx answers resets the streak', async () => {
    const clock = new ManualClock();
    const batch = scripted('batch', outage);
    const single = scripted('single', served);
    const auto = new AutoStrategy(batch, single, 300_000, clock, logger);
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i < PRESUMED_REFUSAL_STREAK; i++) await auto.fetch(['1'], []);
      batch.answer = served;
      await auto.fetch(['1'], []);
      batch.answer = outage;
    }
    expect(single.calls).toBe(0);
    expect(auto.name).toBe('batch');
  });

  it('a definite refusal (a 4xx) switches at once', async () => {
    const clock = new ManualClock();
    const batch = scripted('batch', () => {
      throw new BatchApiRefused('Batch API refused (HTTP 400, Graph code 100)');
    });
    const single = scripted('single', served);
    const auto = new AutoStrategy(batch, single, 1000, clock, logger);
    expect((await auto.fetch(['1'], [])).get('1')?.ok).toBe(true);
    expect(auto.name).toBe('single');
  });

  it('an outage of both batches and objects never switches', async () => {
    const clock = new ManualClock();
    const batch = scripted('batch', outage);
    const single = scripted('single', (ids) => failAll(ids, networkFailure('HTTP 502')));
    const auto = new AutoStrategy(batch, single, 1000, clock, logger);
    for (let i = 0; i < 3 * PRESUMED_REFUSAL_STREAK; i++) await auto.fetch(['1'], []);
    expect(auto.name).toBe('batch');
    expect(single.calls).toBe(3);
  });
});
