import { describe, expect, it } from 'vitest';
import { spawnGateway } from './support/process.js';
import { postGraphQL } from './support/stack.js';

describe('configuration errors stop the process with one readable line', () => {
  it.each([
    [{ GRAPH_BATCH_STRATEGY: 'foo' }, /^ig-profile-gateway: cannot start: GRAPH_BATCH_STRATEGY must be one of auto, batch, single, ids \(got "foo"\)$/],
    [{ INSTAGRAM_API_VERSION: '23' }, /INSTAGRAM_API_VERSION must look like v23\.0/],
    [{ INSTAGRAM_GRAPH_URL: 'graph.instagram.com' }, /INSTAGRAM_GRAPH_URL must be an http\(s\) URL/],
    [{ PORT: 'eighty' }, /PORT must be a whole number/],
    [{ MAX_IDS_PER_QUERY: '0' }, /MAX_IDS_PER_QUERY must be at least 1/],
    [{ HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' }, /HEADERS_TIMEOUT_MS \(20000\) must not exceed REQUEST_TIMEOUT_MS \(10000\)$/],
    [{ MAX_SELECTIONS: '5' }, /MAX_SELECTIONS must be at least 10/],
    [{ NODE_ENV: 'production' }, /INSTAGRAM_ACCESS_TOKEN or INSTAGRAM_ACCOUNTS_FILE is required when NODE_ENV=production/],
  ])('%o', async (env, message) => {
    const gateway = spawnGateway(env);
    expect(await gateway.exited).toBe(1);
    const lines = gateway.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('never echoes a secret value it rejects', async () => {
    const gateway = spawnGateway({ INSTAGRAM_ACCESS_TOKEN: 'secret-token-value', GRAPH_BATCH_STRATEGY: 'nope' });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).not.toContain('secret-token-value');
  });
});

describe('demo mode', () => {
  it('without a token (outside production) serves the simulator, loudly labelled', async () => {
    const gateway = spawnGateway({});
    try {
      const url = await gateway.ready;
      expect(gateway.output()).toContain('SIMULATED DATA');
      const answer = await postGraphQL<{ instagramUser: { id: string; username: string } }>(url, '{ instagramUser(id: "1784140000000001") { id username } }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUser.username).toMatch(/^sim/);
      expect(answer.headers.get('x-gateway-data')).toBe('simulated');
      // Answered again from memory before Fastify (warm, then hot): labelled all the same.
      for (let i = 0; i < 2; i++) {
        const again = await postGraphQL(url, '{ instagramUser(id: "1784140000000001") { id username } }');
        expect(again.headers.get('x-gateway-data')).toBe('simulated');
      }
      const consent = await postGraphQL(url, '{ instagramUser(id: "99900001") { id } }');
      expect(consent.errors?.[0]?.extensions?.code).toBe('CONSENT_REQUIRED');
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });
});
