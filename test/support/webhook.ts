import { createHmac } from 'node:crypto';
import { DEFAULT_BUSINESS_ID } from '../../src/simulator/index.js';

/** Signs and posts webhook deliveries to a running gateway, and reads its counters. */
export const WEBHOOK_APP_SECRET = 'crm-app-secret-4c1e9a77';
export const WEBHOOK_ENV = { INSTAGRAM_APP_SECRET: WEBHOOK_APP_SECRET, INSTAGRAM_WEBHOOK_VERIFY_TOKEN: 'crm-verify-token-0d2b' };

export type Item = Record<string, unknown>;

export const messageItem = (sender: string, mid: string, timestamp: number): Item => ({
  sender: { id: sender },
  recipient: { id: DEFAULT_BUSINESS_ID },
  timestamp,
  message: { mid, text: 'hello' },
});

export async function deliver(url: string, messaging: Item[], options: { account?: string; changes?: Item[] } = {}): Promise<number> {
  const body = JSON.stringify({
    object: 'instagram',
    entry: [{ id: options.account ?? DEFAULT_BUSINESS_ID, time: Date.now(), messaging, ...(options.changes ? { changes: options.changes } : {}) }],
  });
  const signature = `sha256=${createHmac('sha256', WEBHOOK_APP_SECRET).update(body).digest('hex')}`;
  const response = await fetch(`${url}/webhooks/instagram`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Sum of a counter's samples whose labels include `labels`. */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Polls until `check` holds (events, not fixed sleeps); fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
