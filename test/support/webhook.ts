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

/** POSTs a webhook body to a running gateway, signed with `secret` as Meta signs it; resolves with the status. */
export async function postSigned(url: string, body: string, secret: string): Promise<number> {
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const response = await fetch(`${url}/webhooks/instagram`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

export async function deliver(url: string, messaging: Item[], options: { account?: string; changes?: Item[] } = {}): Promise<number> {
  const body = JSON.stringify({
    object: 'instagram',
    entry: [{ id: options.account ?? DEFAULT_BUSINESS_ID, time: Date.now(), messaging, ...(options.changes ? { changes: options.changes } : {}) }],
  });
  return postSigned(url, body, WEBHOOK_APP_SECRET);
}
