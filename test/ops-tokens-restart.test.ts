import { randomBytes } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';
import { postGraphQL } from './support/stack.js';
import { waitForLine } from './support/wait-line.js';

const BIZ = '17841400000000401';
const TOKEN = 'IGQ-original-token-of-biz-401-aa';
const PREFIX = `igpg-test-tokens-${process.pid}`;
const REDIS_URL = 'redis://127.0.0.1:6379';

afterAll(async () => {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const keys = await client.keys(`${PREFIX}:*`);
  if (keys.length) await client.del(keys);
  client.destroy();
});

describe('a restarted gateway uses the newest token after Meta retired the configured one', () => {
  it('refresh → encrypted in Redis → restart with the original (retired) token still serves', { timeout: 120_000 }, async () => {
    // The configured token is two days old (refreshable); the refreshed one is young, so only one refresh happens.
    const sim = await startSimulator({ tokens: { [TOKEN]: BIZ }, tokenRefresh: { minAgeSeconds: 86_400, initialAgeSeconds: 2 * 86_400 } });
    const env = {
      INSTAGRAM_ACCESS_TOKEN: TOKEN,
      INSTAGRAM_GRAPH_URL: sim.url,
      REDIS_URL,
      CACHE_KEY_PREFIX: PREFIX,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      GRAPH_RETRY_BASE_MS: '5',
    };
    const running: GatewayProcess[] = [];
    try {
      const first = spawnGateway({ ...env, INSTAGRAM_TOKEN_REFRESH_SECONDS: '1' });
      running.push(first);
      await first.ready;
      await waitForLine(first, /access token refreshed/);
      expect(await first.stop()).toBe(0);
      expect(sim.tokenRefreshes).toHaveLength(1);
      const [old, fresh] = sim.tokenRefreshes[0]!;
      expect(old).toBe(TOKEN);
      expect(first.output()).not.toContain(fresh);

      sim.resetCalls();
      const second = spawnGateway(env);
      running.push(second);
      const url = await second.ready;
      const answer = await postGraphQL<{ instagramUser: { id: string } }>(url, '{ instagramUser(id: "1784140000000777") { id } }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instagramUser.id).toBe('1784140000000777');
      expect(sim.calls.length).toBeGreaterThan(0);
      expect(new Set(sim.calls.map((call) => call.token))).toEqual(new Set([fresh]));
      expect(second.output()).toContain('using the newest stored access token');
      expect(second.output()).not.toContain(fresh);
      expect(await second.stop()).toBe(0);

      // Without the key the store is out of reach: the retired token is all a restart has.
      const third = spawnGateway({ ...env, TOKEN_ENCRYPTION_KEY: '' });
      running.push(third);
      const url3 = await third.ready;
      expect(third.output()).toContain('refreshed access tokens stay in memory only');
      const refused = await postGraphQL(url3, '{ instagramUser(id: "1784140000000778") { id } }');
      expect(refused.errors?.[0]?.extensions?.code).toBe('ACCESS_TOKEN_INVALID');
    } finally {
      for (const gateway of running) await gateway.stop();
      await sim.close();
    }
  });
});
