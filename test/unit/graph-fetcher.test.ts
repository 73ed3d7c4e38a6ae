import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ProfileFetcher } from '../../src/graph/fetcher.js';
import type { ProfileOutcome } from '../../src/graph/outcomes.js';
import type { FetchStrategy } from '../../src/graph/strategies/index.js';

const logger = pino({ enabled: false });
const ok: FetchStrategy = {
  name: 'batch',
  fetch: async (ids) => new Map<string, ProfileOutcome>(ids.map((id) => [id, { ok: true, profile: { id } }])),
};

describe('ProfileFetcher.fetchGroup never rejects', () => {
  it('a throwing onGroup hook: every id still gets its outcome', async () => {
    const fetcher = new ProfileFetcher(ok, { retries: 0, baseMs: 1 }, logger, {
      onGroup: () => {
        throw new Error('metrics broke');
      },
    });
    const outcomes = await fetcher.fetchGroup(['1', '2'], ['username']);
    expect([...outcomes.keys()]).toEqual(['1', '2']);
    expect([...outcomes.values()].every((outcome) => outcome.ok)).toBe(true);
  });

  it('a throwing onProfile hook: every id still gets its outcome', async () => {
    const fetcher = new ProfileFetcher(ok, { retries: 0, baseMs: 1 }, logger, {
      onProfile: () => {
        throw new Error('metrics broke');
      },
    });
    await expect(fetcher.fetchGroup(['1', '2', '3'], [])).resolves.toHaveProperty('size', 3);
  });

  it('a throwing strategy: every id gets a typed UPSTREAM_ERROR', async () => {
    const broken: FetchStrategy = { name: 'single', fetch: async () => Promise.reject(new TypeError('bug')) };
    const outcomes = await new ProfileFetcher(broken, { retries: 0, baseMs: 1 }, logger).fetchGroup(['1', '2'], []);
    expect([...outcomes.values()].map((outcome) => !outcome.ok && outcome.failure.code)).toEqual(['UPSTREAM_ERROR', 'UPSTREAM_ERROR']);
  });
});
