import { createHmac } from 'node:crypto';
import Fastify from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountRegistry } from '../../src/accounts.js';
import { loadConfig } from '../../src/config.js';
import { MAX_DELIVERIES_IN_PROCESS, registerWebhooks, WEBHOOK_PATH } from '../../src/http/webhooks.js';
import { Metrics } from '../../src/metrics.js';
import { systemClock } from '../../src/clock.js';
import type { AccountProfiles } from '../../src/profiles/account.js';
import { createCommenterLog } from '../../src/profiles/commenters.js';
import { createContactLog } from '../../src/profiles/contacts.js';
import { flushPromises } from '../support/manual-clock.js';

const SECRET = 'backpressure-secret-9f8e7d';
const BUSINESS = '17841400000000001';

describe('webhook deliveries in process', () => {
  const apps: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  it(`answers 503 (Meta redelivers later) once ${MAX_DELIVERIES_IN_PROCESS} accepted deliveries are still being processed, and 200 again once they finish`, async () => {
    // Processing hangs on the store until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const account: AccountProfiles = {
      id: BUSINESS,
      source: { load: async () => new Map() },
      forgetNegative: () => gate,
      forget: async () => undefined,
      ...crmLists(),
      interactions: { record: async () => undefined, lastAt: async (ids) => ids.map(() => null) },
      pausedSeconds: () => 0,
    };
    const app = Fastify();
    apps.push(app);
    const config = loadConfig({ INSTAGRAM_ACCESS_TOKEN: 'EAAbackpressure-token', INSTAGRAM_APP_SECRET: SECRET });
    await registerWebhooks(app, { config, accounts: new AccountRegistry([account]), metrics: new Metrics(), store: undefined, logger: pino({ level: 'silent' }) });

    const post = (n: number) => {
      const body = JSON.stringify({ object: 'instagram', entry: [{ id: BUSINESS, messaging: [{ sender: { id: String(1784140000000000 + n) }, timestamp: Date.now(), message: { mid: `bp-${n}` } }] }] });
      const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
      return app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, payload: body });
    };
    for (let n = 0; n < MAX_DELIVERIES_IN_PROCESS; n++) expect((await post(n)).statusCode).toBe(200);
    const refused = await post(MAX_DELIVERIES_IN_PROCESS);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');

    release();
    await flushPromises();
    expect((await post(MAX_DELIVERIES_IN_PROCESS)).statusCode).toBe(200);
  });
});

/** In-memory contacts and commenters, as an account without Redis has them. */
function crmLists() {
  const lists = { namespace: 'test:acct', retentionMs: 90 * 86_400_000, maxEntries: 1000, clock: systemClock, redis: undefined };
  return { contacts: createContactLog(lists), commenters: createCommenterLog(lists), influencerMinFollowers: 10_000 };
}
