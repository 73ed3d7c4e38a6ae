import { describe, expect, it } from 'vitest';
import { parseMetrics } from './support/metrics.js';
import { waitFor } from './support/wait.js';

describe('test support', () => {
  it('parseMetrics reads names, labels (escapes included) and values, and skips comments', () => {
    const text = [
      '# HELP igpg_x a counter',
      '# TYPE igpg_x counter',
      'igpg_x{account="1",reason="a \\"quoted\\" b,c"} 3',
      'igpg_y 0.5',
      '',
    ].join('\n');
    expect(parseMetrics(text)).toEqual([
      { name: 'igpg_x', labels: { account: '1', reason: 'a "quoted" b,c' }, value: 3 },
      { name: 'igpg_y', labels: {}, value: 0.5 },
    ]);
  });

  it('waitFor resolves once the condition holds and names what it waited for on timeout', async () => {
    let checks = 0;
    await waitFor(() => ++checks === 3, { interval: 1 });
    expect(checks).toBe(3);
    await expect(waitFor(() => false, { timeout: 0, interval: 1, what: 'the moon' })).rejects.toThrow('timed out after 0 ms waiting for the moon');
  });
});
