import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { tempJson } from './support/files.js';
import { spawnGateway } from './support/process.js';
import { igsids, startStack, TEST_TOKEN, type Stack } from './support/stack.js';
import { waitForLine } from './support/wait-line.js';

const STACK = /\n\s+at /;

function listenOn(port = 0): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

async function failedStart(env: Record<string, string>): Promise<string> {
  const gateway = spawnGateway(env);
  expect(await gateway.exited).toBe(1);
  expect(gateway.output()).not.toMatch(STACK);
  // Log lines (JSON, written asynchronously to stdout) may land after the stderr line: skip them.
  const plain = gateway.output().trim().split('\n').filter((line) => !line.startsWith('{'));
  expect(plain.filter((line) => line.startsWith('ig-profile-gateway: cannot start: '))).toHaveLength(1);
  const last = plain.at(-1)!;
  expect(last).toMatch(/^ig-profile-gateway: cannot start: /);
  return last;
}

describe('start-up failures name the setting, in one line without a stack', () => {
  let blocker: Server | undefined;
  afterEach(() => {
    blocker?.close();
    blocker = undefined;
  });

  it('port in use names PORT, HOST and the address', { timeout: 60_000 }, async () => {
    blocker = await listenOn();
    const port = portOf(blocker);
    const line = await failedStart({ PORT: String(port), HOST: '127.0.0.1', INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN, INSTAGRAM_GRAPH_URL: 'http://127.0.0.1:9' });
    expect(line).toContain(`PORT ${port} is already in use on HOST 127.0.0.1 (127.0.0.1:${port})`);
  });

  it('a HOST that does not resolve names HOST', { timeout: 60_000 }, async () => {
    const line = await failedStart({ HOST: 'no-such-host.invalid' });
    expect(line).toContain('HOST "no-such-host.invalid" does not resolve to an address');
  });

  it('an unreachable REDIS_URL is one warning naming REDIS_URL and host:port, never the password; the gateway keeps serving', { timeout: 60_000 }, async () => {
    const closed = await listenOn();
    const port = portOf(closed);
    await new Promise((resolve) => closed.close(resolve));
    const gateway = spawnGateway({ REDIS_URL: `redis://user:hunter2-redis-pw@127.0.0.1:${port}` });
    try {
      const line = await waitForLine(gateway, /Redis cache unreachable/);
      expect(line).toContain(`REDIS_URL redis://127.0.0.1:${port}`);
      const url = await gateway.ready;
      const response = await fetch(`${url}/readyz`);
      // Redis away is degraded, never not ready: queries still work from memory and Meta.
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'degraded', cache: { layer: 'redis', status: 'degraded' }, accounts: [{ state: 'ok' }] });
      expect(gateway.output()).not.toContain('hunter2-redis-pw');
      expect(gateway.output()).not.toMatch(STACK);
      expect(gateway.output().match(/Redis cache unreachable/g)).toHaveLength(1);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });
});

describe('configuration files', () => {
  const configError = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('loadConfig accepted the configuration');
  };

  it('an accounts-file typo is reported as an unknown key', () => {
    const file = tempJson([{ id: '17841400000000101', accesToken: 'EAA-typo-token' }]);
    expect(configError({ INSTAGRAM_ACCOUNTS_FILE: file })).toBe(
      'INSTAGRAM_ACCOUNTS_FILE entry 1: unknown key(s) "accesToken" (known: "id", "accessToken", "appSecret")',
    );
  });

  it('a keys file granting an account that is not configured refuses to start, naming GATEWAY_API_KEYS_FILE', () => {
    const accounts = tempJson([{ id: '17841400000000101', accessToken: 'EAA-token-a' }]);
    const keys = tempJson([
      { key: 'key-all-accounts-3a9f7c1e55', accounts: ['*'] },
      { key: 'key-typo-account-90bd12ee', accounts: ['17841400000000101', '17841400000000999'] },
    ]);
    expect(configError({ INSTAGRAM_ACCOUNTS_FILE: accounts, GATEWAY_API_KEYS_FILE: keys })).toBe(
      'GATEWAY_API_KEYS_FILE entry 2 ("accounts"): account 17841400000000999 is not configured (served: 17841400000000101)',
    );
  });

  it('the same check passes with every granted account configured', () => {
    const accounts = tempJson([{ id: '17841400000000101', accessToken: 'EAA-token-a' }]);
    const keys = tempJson([{ key: 'key-only-account-a-90bd12ee', accounts: ['17841400000000101'] }]);
    expect(loadConfig({ INSTAGRAM_ACCOUNTS_FILE: accounts, GATEWAY_API_KEYS_FILE: keys }).apiKeys).toHaveLength(1);
  });
});

describe('refusals name the setting', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('introspection refused in production names INTROSPECTION=true', async () => {
    stack = await startStack({ env: { NODE_ENV: 'production' } });
    const answer = await stack.gql('{ __schema { queryType { name } } }');
    expect(answer.errors?.[0]?.message).toContain('set INTROSPECTION=true');
    expect(answer.errors?.[0]?.message).not.toContain('introspection: true');
    const typename = await stack.gql<{ __typename: string }>('{ __typename }');
    expect(typename.data?.__typename).toBe('Query');
  });

  it('the per-call id limit names MAX_IDS_PER_QUERY', async () => {
    stack = await startStack({ env: { MAX_IDS_PER_QUERY: '3' } });
    const answer = await stack.gql('query($ids: [ID!]!) { instagramUsers(ids: $ids) { id } }', { ids: igsids(4) });
    expect(answer.errors?.[0]?.message).toMatch(/at most 3 ids per call .*MAX_IDS_PER_QUERY/);
  });
});
