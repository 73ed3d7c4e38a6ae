import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.js';

/** README's one metrics table (Operations → Metrics): a row per metric, or a `prefix_*` row for prom-client's own. */
interface Row {
  name: string;
  type: string;
  labels: string[];
}

function metricsTable(readme: string): Row[] {
  const section = readme.split('\n### Metrics\n')[1]?.split('\n### ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `igpg_'))
    .map((line) => {
      const [name, type, labels] = line.split(' | ').map((cell) => cell.replace(/^\| /, '').trim());
      return { name: name!.replaceAll('`', ''), type: type!, labels: [...labels!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!) };
    });
}

let stack: Stack;
beforeAll(async () => {
  // A gateway with a real token (so token refresh registers its gauge), webhooks and avatars: every metric registers at start.
  stack = await startStack({ env: { INSTAGRAM_APP_SECRET: 'metrics-docs-secret', INSTAGRAM_WEBHOOK_VERIFY_TOKEN: 'metrics-docs-verify' } });
});
afterAll(async () => {
  await stack?.close();
});

describe('README documents every metric, exactly', () => {
  it('the table names every registered igpg_* metric with its type and labels, and nothing else', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const rows = metricsTable(readme);
    const registry = stack.gateway.metrics.registry;
    const registered = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => name.startsWith('igpg_'));
    const patterns = rows.filter((row) => row.name.endsWith('*'));
    const exact = new Map(rows.filter((row) => !row.name.endsWith('*')).map((row) => [row.name, row]));
    expect(exact.size).toBeGreaterThanOrEqual(25);

    const covered = (name: string) => exact.has(name) || patterns.some((row) => name.startsWith(row.name.slice(0, -1)));
    expect(registered.filter((name) => !covered(name)), 'registered but not in README').toEqual([]);
    expect([...exact.keys()].filter((name) => !registered.includes(name)), 'in README but not registered').toEqual([]);
    for (const row of patterns) expect(registered.some((name) => name.startsWith(row.name.slice(0, -1))), row.name).toBe(true);

    for (const row of exact.values()) {
      const metric = registry.getSingleMetric(row.name) as unknown as { type: string; labelNames: string[] };
      expect(row.type, `${row.name} type`).toBe(String(metric.type));
      expect(row.labels, `${row.name} labels`).toEqual([...metric.labelNames]);
    }
  });
});
