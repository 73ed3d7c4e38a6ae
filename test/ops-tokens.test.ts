import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GraphClient } from '../src/graph/client.js';
import { Metrics } from '../src/metrics.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { AccountTokens } from '../src/tokens/index.js';
import { TokenRefresher, type LiveCredentials } from '../src/tokens/refresh.js';
import { createTokenStore, type TokenBackend } from '../src/tokens/store.js';
import { captureLog } from './support/log-capture.js';
import { systemClock } from '../src/clock.js';
import { ManualClock } from './support/manual-clock.js';

const BIZ = '17841400000000301';
const TOKEN = 'IGQ-configured-token-6c1f0e2a9b';
const DAY = 86_400_000;
const KEY = randomBytes(32);

function mapBackend(): TokenBackend & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    get: async (key) => data.get(key),
    set: async (key, value) => void data.set(key, value),
    close: async () => undefined,
  };
}

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function simWith(tokenRefresh: NonNullable<Parameters<typeof startSimulator>[0]>['tokenRefresh']) {
  sim = await startSimulator({ tokens: { [TOKEN]: BIZ }, tokenRefresh });
  return sim;
}

async function meStatus(url: string, token: string): Promise<number> {
  return (await fetch(`${url}/v23.0/me?fields=user_id`, { headers: { authorization: `Bearer ${token}` } })).status;
}

describe('simulator: GET /refresh_access_token', () => {
  it('refuses a token younger than 24 hours, like Meta', async () => {
    const s = await simWith(undefined);
    const answer = await fetch(`${s.url}/refresh_access_token?grant_type=ig_refresh_token&access_token=${TOKEN}`);
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/24 hours/);
  });

  it('answers {access_token, token_type, expires_in} and retires the old token', async () => {
    const s = await simWith({ minAgeSeconds: 0 });
    const answer = await fetch(`${s.url}/refresh_access_token?grant_type=ig_refresh_token&access_token=${TOKEN}`);
    const body = (await answer.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(answer.status).toBe(200);
    expect(body.token_type).toBe('bearer');
    expect(body.expires_in).toBe(60 * 86_400);
    expect(body.access_token).not.toBe(TOKEN);
    expect(await meStatus(s.url, body.access_token)).toBe(200);
    expect(await meStatus(s.url, TOKEN)).toBe(400);
  });
});

describe('token store: AES-256-GCM under a key derived from the configured token', () => {
  const token = { accessToken: 'IGQ-refreshed-token-77aa01', expiresAt: Date.UTC(2027, 0, 1), refreshedAt: Date.UTC(2026, 11, 1) };

  it('round-trips, and neither the Redis key nor the value holds a token', async () => {
    const backend = mapBackend();
    const store = createTokenStore({ key: KEY, keyPrefix: 'p', backend });
    await store.save(TOKEN, token);
    expect(await store.load(TOKEN)).toEqual(token);
    expect(await store.load('another-configured-token')).toBeUndefined();
    const [[name, value]] = [...backend.data] as [[string, string]];
    expect(name).toMatch(/^p:token:[0-9a-f]{32}$/);
    for (const secret of [TOKEN, token.accessToken]) {
      expect(name).not.toContain(secret);
      expect(value).not.toContain(secret);
    }
  });

  it('refuses a record under another key, or tampered with', async () => {
    const backend = mapBackend();
    await createTokenStore({ key: KEY, keyPrefix: 'p', backend }).save(TOKEN, token);
    const [[name, value]] = [...backend.data] as [[string, string]];
    // Another key derives another slot: copy the record there to try decrypting it.
    const other = createTokenStore({ key: randomBytes(32), keyPrefix: 'p', backend });
    await other.save(TOKEN, token);
    const otherName = [...backend.data.keys()].find((k) => k !== name)!;
    backend.data.set(otherName, value);
    await expect(other.load(TOKEN)).rejects.toThrow(/does not decrypt with TOKEN_ENCRYPTION_KEY/);
    const envelope = JSON.parse(value) as { data: string };
    backend.data.set(name, JSON.stringify({ ...envelope, data: Buffer.from('x'.repeat(40)).toString('base64') }));
    await expect(createTokenStore({ key: KEY, keyPrefix: 'p', backend }).load(TOKEN)).rejects.toThrow(/does not decrypt/);
    backend.data.set(name, '{"v":2}');
    await expect(createTokenStore({ key: KEY, keyPrefix: 'p', backend }).load(TOKEN)).rejects.toThrow(/malformed/);
  });
});

describe('TokenRefresher on a manual clock', () => {
  function refresher(s: Simulator, options: { store?: ReturnType<typeof createTokenStore>; intervalMs?: number } = {}) {
    const clock = new ManualClock();
    const log = captureLog([TOKEN]);
    const credentials: LiveCredentials = { accessToken: TOKEN };
    const r = new TokenRefresher({
      accountId: BIZ,
      configuredToken: TOKEN,
      credentials,
      graphUrl: s.url,
      intervalMs: options.intervalMs ?? DAY,
      timeoutMs: 5000,
      clock,
      logger: log.logger,
      store: options.store,
    });
    return { r, clock, log, credentials };
  }

  it('a refreshed token is scrubbed from every later log line, like the configured one', async () => {
    const s = await simWith({ minAgeSeconds: 0 });
    const { r, clock, log, credentials } = refresher(s);
    r.start();
    await clock.advance(DAY);
    await log.next(/access token refreshed/);
    r.stop();
    const fresh = credentials.accessToken;
    expect(fresh).not.toBe(TOKEN);
    // Whatever carries it (an error text, a message), the new token never reaches the output.
    log.logger.warn({ reason: `Meta said ${fresh} is invalid` }, `a call with ${fresh} failed`);
    expect(log.lines.at(-1)).toMatchObject({ msg: 'a call with [redacted] failed', reason: 'Meta said [redacted] is invalid' });
  });

  it('refreshes every interval; the Graph client sends the new token at once', async () => {
    const s = await simWith({ minAgeSeconds: 0 });
    const { r, clock, log, credentials } = refresher(s);
    const client = new GraphClient({ baseUrl: s.url, version: 'v23.0', credentials, timeoutMs: 5000, maxResponseBytes: 1_048_576, maxWaitSeconds: 3600, clock: systemClock, logger: log.logger });
    r.start();
    await clock.advance(DAY - 1);
    expect(s.tokenRefreshes).toHaveLength(0);
    await clock.advance(1);
    await log.next(/access token refreshed/);
    const fresh = s.tokenRefreshes[0]![1];
    expect(credentials.accessToken).toBe(fresh);
    expect(r.status()).toEqual({ state: 'ok', expiresAt: clock.now() + 60 * DAY, refreshedAt: clock.now() });
    s.resetCalls();
    expect((await client.get('me', 'me', { fields: 'user_id' })).status).toBe(200);
    expect(s.calls[0]!.token).toBe(fresh);
    // The next one a whole interval later, with the token it got last time.
    const seen = log.lines.length;
    await clock.advance(DAY);
    await log.next(/access token refreshed/, seen);
    expect(s.tokenRefreshes[1]![0]).toBe(fresh);
    expect(JSON.stringify(log.lines)).not.toContain(fresh);
    r.stop();
    expect(clock.pending).toBe(0);
  });

  it('retries a refused refresh with capped exponential backoff; 190 marks the token invalid', async () => {
    const s = await simWith({ minAgeSeconds: 86_400 * 365 });
    const { r, clock, log } = refresher(s);
    await r.tick();
    const retries = log.lines.filter((line) => line.msg === 'access token refresh failed; will retry');
    expect(retries.map((line) => line.retryInSeconds)).toEqual([60]);
    expect(retries[0]!.reason).toMatch(/24 hours/);
    await clock.advance(60_000);
    await log.next(/refresh failed/, log.lines.indexOf(retries[0]!) + 1);
    const after = log.lines.filter((line) => line.msg === 'access token refresh failed; will retry').map((line) => line.retryInSeconds);
    expect(after).toEqual([60, 120]);
    expect(r.status().state).toBe('ok');
    // Meta no longer knows the token: code 190.
    s.configure({ tokens: {} });
    const seen = log.lines.length;
    await clock.advance(120_000);
    const refused = await log.next(/token is invalid/, seen);
    expect(refused.code).toBe(190);
    expect(refused.level).toBe(50);
    expect(r.status().state).toBe('token_invalid');
    r.stop();
  });

  it('warns when fewer than 7 days remain', async () => {
    const s = await simWith({ minAgeSeconds: 0, expiresInSeconds: 6 * 86_400 });
    const { r, log } = refresher(s);
    await r.tick();
    const warning = await log.next(/expires in less than 7 days/);
    expect(warning.daysLeft).toBe(6);
    r.stop();
  });

  it('a replica picks up the token another one refreshed instead of refreshing again', async () => {
    const s = await simWith({ minAgeSeconds: 0 });
    const store = createTokenStore({ key: KEY, keyPrefix: 'p', backend: mapBackend() });
    const a = refresher(s, { store });
    const b = refresher(s, { store });
    await a.r.tick();
    expect(s.tokenRefreshes).toHaveLength(1);
    await b.r.tick();
    expect(s.tokenRefreshes).toHaveLength(1);
    expect(b.credentials.accessToken).toBe(a.credentials.accessToken);
    await b.log.next(/another replica refreshed/);
    a.r.stop();
    b.r.stop();
  });
});

describe('AccountTokens', () => {
  it('starts from the newest stored token, exposes igpg_token_expires_seconds, and says when tokens stay in memory', async () => {
    const s = await simWith({ minAgeSeconds: 0 });
    const clock = new ManualClock();
    const store = createTokenStore({ key: KEY, keyPrefix: 'p', backend: mapBackend() });
    await store.save(TOKEN, { accessToken: 'IGQ-stored-newer-token-1', expiresAt: clock.now() + 30 * DAY, refreshedAt: clock.now() - DAY / 2 });
    const metrics = new Metrics();
    const log = captureLog();
    const base = { redisUrl: undefined, keyPrefix: 'p', graphUrl: s.url, timeoutMs: 5000, clock, logger: log.logger };
    const tokens = new AccountTokens({ ...base, tokens: { refreshMs: DAY, encryptionKey: undefined }, metrics, store });
    const live = await tokens.prepare({ id: BIZ, accessToken: TOKEN });
    expect(live.accessToken).toBe('IGQ-stored-newer-token-1');
    tokens.start(live, BIZ);
    expect(await metrics.registry.getSingleMetricAsString('igpg_token_expires_seconds')).toContain(`igpg_token_expires_seconds{account="${BIZ}"} ${30 * 86_400}`);
    // Due half a day after start: a day after the stored refresh, not after this start.
    expect(clock.pending).toBe(1);
    await tokens.close();

    const memoryOnly = captureLog();
    await new AccountTokens({ ...base, logger: memoryOnly.logger, tokens: { refreshMs: DAY, encryptionKey: undefined }, metrics: new Metrics() }).close();
    expect(memoryOnly.lines.map((line) => line.msg)).toContain(
      'refreshed access tokens stay in memory only: a restart goes back to the configured token (set REDIS_URL and TOKEN_ENCRYPTION_KEY to store them encrypted)',
    );
  });
});
