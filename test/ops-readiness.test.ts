import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BUSINESS_ID, startSimulator, type Simulator } from '../src/simulator/index.js';
import type { ReadinessReport } from '../src/readiness.js';
import { startStack, type Stack } from './support/stack.js';
import { tempJson } from './support/files.js';
import { freePort } from './support/process.js';
import { waitFor } from './support/wait.js';

async function readyz(stack: Stack): Promise<{ code: number; body: ReadinessReport }> {
  const response = await fetch(`${stack.url}/readyz`);
  return { code: response.status, body: (await response.json()) as ReadinessReport };
}

/** Waits for a log line of the gateway. */
function logged(stack: Stack, msg: RegExp): Promise<void> {
  return waitFor(() => stack.logs.some((line) => msg.test(String((JSON.parse(line) as { msg?: unknown }).msg))), { what: `a log line ${msg}`, timeout: 60_000 });
}

let stack: Stack | undefined;
let extraSim: Simulator | undefined;
afterEach(async () => {
  await stack?.close();
  await extraSim?.close();
  stack = undefined;
  extraSim = undefined;
});

describe('/readyz tells the truth', () => {
  it('503 not_ready when Meta rejects the token', async () => {
    stack = await startStack({ sim: { tokens: {} } });
    const { code, body } = await readyz(stack);
    expect(code).toBe(503);
    expect(body.status).toBe('not_ready');
    expect(body.accounts).toHaveLength(1);
    expect(body.accounts[0]!.state).toBe('token_invalid');
  });

  it('lists every account: one rejected token among two is 200 degraded from the start; the answer tells which', async () => {
    const [a, b] = ['17841400000000101', '17841400000000202'];
    const [tokenA, tokenB] = ['EAAtoken-ready-A-51c0e2', 'EAAtoken-ready-B-8d4f91'];
    const accounts = tempJson([{ id: a, accessToken: tokenA }, { id: b, accessToken: tokenB }]);
    // Meta knows only A's token: B's is rejected with code 190. Configured ids are checked against
    // their tokens (/me) at start, so readiness knows before any lookup.
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accounts }, sim: { tokens: { [tokenA]: a } } });
    const { code, body } = await readyz(stack);
    expect(code).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.accounts).toEqual([
      { id: a, state: 'ok' },
      { id: b, state: 'token_invalid' },
    ]);
    expect(JSON.stringify(body)).not.toContain('EAAtoken');
    const failed = await stack.gql('{ instagramUser(id: "1784140000000021") { id } }', undefined, { 'x-instagram-account': b });
    expect(failed.errors?.[0]?.extensions?.code).toBe('ACCESS_TOKEN_INVALID');
  });

  it('configured ids whose tokens are all rejected: 503 at once, before any lookup', async () => {
    const accounts = tempJson([
      { id: '17841400000000303', accessToken: 'EAAtoken-revoked-C-0a1b2c' },
      { id: '17841400000000404', accessToken: 'EAAtoken-revoked-D-3d4e5f' },
    ]);
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accounts }, sim: { tokens: {} } });
    const { code, body } = await readyz(stack);
    expect(code).toBe(503);
    expect(body.accounts.map((account) => account.state)).toEqual(['token_invalid', 'token_invalid']);
    expect(stack.sim.calls.filter((call) => call.kind !== 'me')).toHaveLength(0);
  });

  it('Meta unreachable at start: 503 account_unknown, then the real id without a restart once Meta answers', { timeout: 30_000 }, async () => {
    const port = await freePort();
    stack = await startStack({ env: { INSTAGRAM_GRAPH_URL: `http://127.0.0.1:${port}`, GRAPH_MAX_RETRIES: '0' } });
    const before = await readyz(stack);
    expect(before.code).toBe(503);
    expect(before.body.accounts[0]).toMatchObject({ state: 'account_unknown' });
    expect(before.body.accounts[0]!.id).toMatch(/^token-/);

    extraSim = await startSimulator({ port });
    await logged(stack, /learned the business account id/);
    const after = await readyz(stack);
    expect(after.code).toBe(200);
    expect(after.body).toMatchObject({ status: 'ready', accounts: [{ id: DEFAULT_BUSINESS_ID, state: 'ok' }] });
    const answer = await stack.gql<{ instagramUser: { id: string } }>('{ instagramUser(id: "1784140000000001") { id } }', undefined, {
      'x-instagram-account': DEFAULT_BUSINESS_ID,
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instagramUser.id).toBe('1784140000000001');
  });

  it('paused (with until when) and unreachable accounts stay 200, degraded', async () => {
    stack = await startStack({ sim: { scenarios: { '1784140000000009': { kind: 'rateLimited', etaMinutes: 5 } } } });
    expect((await readyz(stack)).body).toMatchObject({ status: 'ready', accounts: [{ state: 'ok' }] });
    await stack.gql('{ instagramUser(id: "1784140000000009") { id } }');
    const paused = await readyz(stack);
    expect(paused.code).toBe(200);
    expect(paused.body.status).toBe('degraded');
    expect(paused.body.accounts[0]!.state).toBe('paused');
    expect(Date.parse(paused.body.accounts[0]!.pausedUntil!)).toBeGreaterThan(Date.now() + 60_000);
  });

  it('unreachable after start: 200 degraded with the account unreachable', async () => {
    stack = await startStack({ env: { GRAPH_MAX_RETRIES: '0' } });
    await stack.sim.close();
    await stack.gql('{ instagramUser(id: "1784140000000011") { id } }');
    const { code, body } = await readyz(stack);
    expect(code).toBe(200);
    expect(body).toMatchObject({ status: 'degraded', accounts: [{ id: DEFAULT_BUSINESS_ID, state: 'unreachable' }] });
  });

  it('shows the token expiry once a refresh told it', async () => {
    stack = await startStack({ env: { INSTAGRAM_TOKEN_REFRESH_SECONDS: '1' }, sim: { tokenRefresh: { minAgeSeconds: 0 } } });
    await logged(stack, /access token refreshed/);
    const { body } = await readyz(stack);
    expect(Date.parse(body.accounts[0]!.tokenExpiresAt!)).toBeGreaterThan(Date.now() + 59 * 86_400_000);
  });
});
