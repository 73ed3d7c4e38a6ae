import { waitFor, type WaitOptions } from './wait.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition (comments skipped, label values unescaped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = line.startsWith('#') ? null : SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = JSON.parse(`"${value!}"`) as string;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** GET `/metrics` of the gateway at `baseUrl`, parsed. */
export async function scrapeMetrics(baseUrl: string): Promise<Sample[]> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Sum of the samples named `name` whose labels include `labels` (0 when none). */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const matching = (await scrapeMetrics(baseUrl)).filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

/** Waits until `metric(baseUrl, name, labels)` reaches `target`. */
export function waitForMetric(baseUrl: string, name: string, labels: Record<string, string>, target: number, options: WaitOptions = {}): Promise<void> {
  return waitFor(async () => (await metric(baseUrl, name, labels)) >= target, { what: `${name} ${JSON.stringify(labels)} to reach ${target}`, ...options });
}
