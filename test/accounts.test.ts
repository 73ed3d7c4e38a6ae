import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../src/api-keys.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { simulatedProfile } from '../src/simulator/index.js';
import { tempJson } from './support/files.js';
import { spawnGateway } from './support/process.js';
import { igsids, startStack, type Stack } from './support/stack.js';

const BIZ_A = '17841400000000101';
const BIZ_B = '17841400000000202';
const TOKEN_A = 'EAAtoken-account-A-5f1c0a9e';
const TOKEN_B = 'EAAtoken-account-B-0b7d33c2';
const SECRET_A = 'app-secret-of-A-77aa';
const PROOF_A = createHmac('sha256', SECRET_A).update(TOKEN_A).digest('hex');
const KEY_ALL = 'key-all-accounts-3a9f7c1e55';
const KEY_A = 'key-only-account-a-90bd12ee';

const ONE = `query($id: ID!) { instagramUser(id: $id) { id username } }`;
const accountsFile = () =>
  tempJson([
    { id: BIZ_A, accessToken: TOKEN_A, appSecret: SECRET_A },
    { id: BIZ_B, accessToken: TOKEN_B },
  ]);
const SIM = { tokens: { [TOKEN_A]: BIZ_A, [TOKEN_B]: BIZ_B }, appSecrets: { [BIZ_A]: SECRET_A } };
const as = (account: string, key?: string): Record<string, string> => ({
  'x-instagram-account': account,
  ...(key ? { authorization: `Bearer ${key}` } : {}),
});

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('several business accounts', () => {
  it.each([
    ['cached', 'true'],
    ['uncached', 'false'],
  ])('the same IGSID through two accounts gives each its own data (%s), each on its own token', async (_label, cache) => {
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accountsFile(), CACHE_ENABLED: cache }, sim: SIM });
    const [id] = igsids(1, 3000);
    const expected: Record<string, string> = { [BIZ_A]: simulatedProfile(id!, BIZ_A).username, [BIZ_B]: simulatedProfile(id!, BIZ_B).username };
    expect(expected[BIZ_A]).not.toBe(expected[BIZ_B]);
    for (const account of [BIZ_A, BIZ_B, BIZ_A, BIZ_B, BIZ_A]) {
      const answer = await stack.gql<{ instagramUser: { username: string } }>(ONE, { id }, as(account));
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUser.username).toBe(expected[account]);
    }
    const calls = stack.sim.calls;
    // Cached: one call per account; uncached: one per query. Always the right token and proof.
    expect(calls).toHaveLength(cache === 'true' ? 2 : 5);
    for (const call of calls) {
      expect(call.businessId === BIZ_A ? [TOKEN_A, PROOF_A] : [TOKEN_B, null]).toEqual([call.token, call.appsecretProof]);
    }
    expect(calls.map((call) => call.businessId)).toEqual(cache === 'true' ? [BIZ_A, BIZ_B] : [BIZ_A, BIZ_B, BIZ_A, BIZ_B, BIZ_A]);
  });

  it('concurrent lookups of the same ids never share a Graph call across accounts', async () => {
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accountsFile(), BATCH_WINDOW_MS: '20' }, sim: SIM });
    const ids = igsids(6, 3100);
    const list = `query($ids: [ID!]!) { instagramUsers(ids: $ids) { username } }`;
    const answers = await Promise.all([BIZ_A, BIZ_B, BIZ_A, BIZ_B].map((account) => stack!.gql<{ instagramUsers: Array<{ username: string }> }>(list, { ids }, as(account))));
    answers.forEach((answer, i) => {
      const business = i % 2 === 0 ? BIZ_A : BIZ_B;
      expect(answer.data?.instagramUsers.map((user) => user.username)).toEqual(ids.map((id) => simulatedProfile(id, business).username));
    });
    expect(stack.sim.calls).toHaveLength(2);
    expect(new Set(stack.sim.calls.map((call) => call.token))).toEqual(new Set([TOKEN_A, TOKEN_B]));
    for (const call of stack.sim.calls) expect([...call.ids].sort()).toEqual(ids);
    // Metrics carry account ids, never tokens.
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toContain(`account="${BIZ_A}"`);
    expect(metrics).toContain(`account="${BIZ_B}"`);
    expect(metrics).not.toContain(TOKEN_A);
    // Every per-account figure says which account it is about.
    const perAccount = metrics
      .split('\n')
      .filter((line) => /^igpg_(upstream_|cache_lookups|cache_stale|coalesced|graph_app_usage|account_)/.test(line));
    expect(perAccount.length).toBeGreaterThan(10);
    for (const line of perAccount) expect(line).toMatch(new RegExp(`account="(${BIZ_A}|${BIZ_B})"`));
  });

  it('needs X-Instagram-Account with several accounts; an unknown id is refused; neither calls Meta', async () => {
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accountsFile() }, sim: SIM });
    const [id] = igsids(1, 3200);
    const missing = await stack.gql(ONE, { id });
    expect(missing.status).toBe(400);
    expect(missing.errors?.[0]?.extensions?.code).toBe('ACCOUNT_REQUIRED');
    expect(missing.errors?.[0]?.message).toContain('X-Instagram-Account');
    const unknown = await stack.gql(ONE, { id }, as('17841400000000999'));
    expect(unknown.status).toBe(400);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('ACCOUNT_UNKNOWN');
    expect(stack.sim.calls).toHaveLength(0);
    expect(stack.gateway.accounts.get(BIZ_B)?.id).toBe(BIZ_B);
    const ready = (await (await fetch(`${stack.url}/readyz`)).json()) as { accounts: Array<{ id: string }> };
    expect(ready.accounts.map((account) => account.id)).toEqual([BIZ_A, BIZ_B]);
  });

  it('with one account the header is optional, and must match when given', async () => {
    stack = await startStack({ env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: tempJson([{ id: BIZ_B, accessToken: TOKEN_B }]) }, sim: SIM });
    const [id] = igsids(1, 3300);
    expect((await stack.gql(ONE, { id })).errors).toBeUndefined();
    expect((await stack.gql(ONE, { id }, as(BIZ_B))).errors).toBeUndefined();
    expect((await stack.gql(ONE, { id }, as(BIZ_A))).errors?.[0]?.extensions?.code).toBe('ACCOUNT_UNKNOWN');
    expect(stack.sim.calls.map((call) => call.token)).toEqual([TOKEN_B]);
  });
});

describe('client API keys', () => {
  const keysFile = () => tempJson([{ key: KEY_ALL, accounts: ['*'] }, { key: KEY_A, accounts: [BIZ_A] }]);

  it('every outcome: 401 without or with an unknown key, 403 for an account the key does not list, data otherwise', async () => {
    stack = await startStack({
      env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accountsFile(), GATEWAY_API_KEYS_FILE: keysFile() },
      sim: SIM,
    });
    const [id] = igsids(1, 3400);
    const outcome = async (headers: Record<string, string>) => {
      const answer = await stack!.gql(ONE, { id }, headers);
      return [answer.status, answer.errors?.[0]?.extensions?.code ?? 'ok'];
    };
    expect(await outcome({ 'x-instagram-account': BIZ_A })).toEqual([401, 'UNAUTHENTICATED']);
    expect(await outcome(as(BIZ_A, 'not-a-key-of-ours-at-all'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(await outcome({ ...as(BIZ_A), authorization: `Basic ${KEY_ALL}` })).toEqual([401, 'UNAUTHENTICATED']);
    expect(await outcome(as(BIZ_B, KEY_A))).toEqual([403, 'FORBIDDEN']);
    expect(await outcome(as('17841400000000999', KEY_A))).toEqual([403, 'FORBIDDEN']);
    expect(await outcome({ authorization: `Bearer ${KEY_A}` })).toEqual([400, 'ACCOUNT_REQUIRED']);
    expect(await outcome(as('17841400000000999', KEY_ALL))).toEqual([400, 'ACCOUNT_UNKNOWN']);
    expect(stack.sim.calls).toHaveLength(0);

    expect(await outcome(as(BIZ_A, KEY_A))).toEqual([200, 'ok']);
    expect(await outcome(as(BIZ_B, KEY_ALL))).toEqual([200, 'ok']);
    expect(stack.sim.calls.map((call) => call.token)).toEqual([TOKEN_A, TOKEN_B]);

    const unauthenticated = await stack.gql(ONE, { id }, as(BIZ_A));
    expect(unauthenticated.errors?.[0]?.message).not.toContain('Context creation failed');
    expect(unauthenticated.data).toBeUndefined();
    const logs = stack.logs.join('\n');
    for (const secret of [KEY_ALL, KEY_A, 'not-a-key-of-ours-at-all', TOKEN_A, TOKEN_B, SECRET_A]) expect(logs).not.toContain(secret);
    expect(logs).toContain(fingerprint('not-a-key-of-ours-at-all'));
    expect(logs).toContain(fingerprint(KEY_A));
    // One warning per refused request, however many paths looked at its key before Apollo refused it.
    const warnings = (message: string) => stack!.logs.filter((line) => line.includes(message)).length;
    expect(warnings('request with an unknown API key refused')).toBe(1);
    expect(warnings('API key used for an account it does not list')).toBe(2);
  });

  it('FORBIDDEN does not echo a huge X-Instagram-Account into the answer or the log', async () => {
    stack = await startStack({
      env: { INSTAGRAM_ACCESS_TOKEN: '', INSTAGRAM_ACCOUNTS_FILE: accountsFile(), GATEWAY_API_KEYS_FILE: keysFile() },
      sim: SIM,
    });
    const huge = '9'.repeat(15_000);
    const answer = await stack.gql(ONE, { id: igsids(1, 3500)[0] }, as(huge, KEY_A));
    expect([answer.status, answer.errors?.[0]?.extensions?.code]).toEqual([403, 'FORBIDDEN']);
    expect(answer.errors![0]!.message.length).toBeLessThan(200);
    expect(stack.logs.join('\n')).not.toContain('9'.repeat(100));
  });
});

describe('accounts and keys files are validated at start', () => {
  const base = { INSTAGRAM_GRAPH_URL: 'http://127.0.0.1:1' };
  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('loadConfig accepted it');
  };

  it.each([
    [[{ id: BIZ_A, accessToken: TOKEN_A }, { id: 'abc', accessToken: TOKEN_B }], 'INSTAGRAM_ACCOUNTS_FILE entry 2 ("id"): must be 1–20 digits'],
    [[{ id: BIZ_A, accessToken: '' }], 'INSTAGRAM_ACCOUNTS_FILE entry 1 ("accessToken"): must not be empty'],
    [[{ id: BIZ_A, accessToken: TOKEN_A, token: TOKEN_B }], 'INSTAGRAM_ACCOUNTS_FILE entry 1: unknown key(s) "token"'],
    [[{ id: BIZ_A, accessToken: TOKEN_A }, { id: BIZ_A, accessToken: TOKEN_B }], 'INSTAGRAM_ACCOUNTS_FILE entry 2 ("id"): account 17841400000000101 is already entry 1'],
    [{ id: BIZ_A, accessToken: TOKEN_A }, 'INSTAGRAM_ACCOUNTS_FILE must hold a JSON array of accounts'],
    [[], 'INSTAGRAM_ACCOUNTS_FILE must list at least one account'],
    [`[{"id": "${BIZ_A}", "accessToken": "${TOKEN_A}"`, 'INSTAGRAM_ACCOUNTS_FILE is not valid JSON'],
  ])('accounts file %j', (content, message) => {
    const text = refusal({ INSTAGRAM_ACCOUNTS_FILE: tempJson(content) });
    expect(text).toContain(message);
    expect(text).not.toContain(TOKEN_A);
    expect(text).not.toContain(TOKEN_B);
  });

  it.each([
    [[{ key: 'short', accounts: ['*'] }], 'GATEWAY_API_KEYS_FILE entry 1 ("key"): must be at least 16 characters'],
    [[{ key: KEY_A, accounts: ['me'] }], 'GATEWAY_API_KEYS_FILE entry 1 ("accounts"."0"): must be account ids (1–20 digits) or "*"'],
    [[{ key: KEY_A, accounts: [] }], 'GATEWAY_API_KEYS_FILE entry 1 ("accounts"): must list at least one account id or "*"'],
    [[{ key: KEY_A, accounts: ['*'] }, { key: KEY_A, accounts: [BIZ_A] }], 'GATEWAY_API_KEYS_FILE entry 2 ("key"): the same key as entry 1'],
  ])('keys file %j', (content, message) => {
    const text = refusal({ INSTAGRAM_ACCESS_TOKEN: TOKEN_A, GATEWAY_API_KEYS_FILE: tempJson(content) });
    expect(text).toContain(message);
    expect(text).not.toContain(KEY_A);
  });

  it('a missing file, or both a token and a file, is one line naming the variable', () => {
    expect(refusal({ INSTAGRAM_ACCOUNTS_FILE: '/nonexistent/accounts.json' })).toBe('INSTAGRAM_ACCOUNTS_FILE cannot be read (ENOENT): /nonexistent/accounts.json');
    expect(refusal({ GATEWAY_API_KEYS_FILE: '/nonexistent/keys.json' })).toContain('GATEWAY_API_KEYS_FILE cannot be read');
    expect(refusal({ INSTAGRAM_ACCESS_TOKEN: TOKEN_A, INSTAGRAM_ACCOUNTS_FILE: accountsFile() })).toContain('not both');
  });

  it('production: several accounts need GATEWAY_API_KEYS_FILE; one account, or keys, are fine', () => {
    expect(refusal({ NODE_ENV: 'production', INSTAGRAM_ACCOUNTS_FILE: accountsFile() })).toContain('GATEWAY_API_KEYS_FILE is required');
    const withKeys = loadConfig({ ...base, NODE_ENV: 'production', INSTAGRAM_ACCOUNTS_FILE: accountsFile(), GATEWAY_API_KEYS_FILE: tempJson([{ key: KEY_A, accounts: ['*'] }]) });
    expect(withKeys.accounts.map((account) => account.id)).toEqual([BIZ_A, BIZ_B]);
    expect(withKeys.accounts[1]?.appSecret).toBeUndefined();
    const single = loadConfig({ ...base, NODE_ENV: 'production', INSTAGRAM_ACCOUNTS_FILE: tempJson([{ id: BIZ_A, accessToken: TOKEN_A }]), INSTAGRAM_APP_SECRET: SECRET_A });
    expect(single.accounts).toEqual([{ id: BIZ_A, accessToken: TOKEN_A, appSecret: SECRET_A }]);
    expect(single.simulated).toBe(false);
  });

  it('the built gateway refuses to start in production with several accounts and no keys', async () => {
    const gateway = spawnGateway({ NODE_ENV: 'production', INSTAGRAM_ACCOUNTS_FILE: accountsFile() });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output().trim().split('\n')).toHaveLength(1);
    expect(gateway.output()).toMatch(/^ig-profile-gateway: cannot start: GATEWAY_API_KEYS_FILE is required/);
    expect(gateway.output()).not.toContain(TOKEN_A);
  });
});
