import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchableUrl } from '../src/avatars/cdn.js';
import { createGateway } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { simulatedProfile } from '../src/simulator/index.js';
import { redisForTests, SHARED_REDIS_URL } from './support/redis.js';
import { igsids, startStack, TEST_TOKEN, type Stack } from './support/stack.js';

const redisOk = await redisForTests();
/** Loopback stack whose simulator serves pictures from its own fake CDN (the only allowed host). */
const AVATAR_ENV = { AVATAR_ALLOWED_HOSTS: '127.0.0.1' };

const cdnCalls = (stack: Stack) => stack.sim.calls.filter((call) => call.kind === 'cdn');
const graphReads = (stack: Stack) => stack.sim.calls.filter((call) => ['single', 'batch', 'ids'].includes(call.kind));

async function avatarUrlOf(stack: Stack, id: string, headers: Record<string, string> = {}): Promise<string> {
  const answer = await stack.gql<{ instagramUser: { avatarUrl: string } }>(`query($id: ID!) { instagramUser(id: $id) { avatarUrl } }`, { id }, headers);
  expect(answer.errors).toBeUndefined();
  return answer.data!.instagramUser.avatarUrl;
}

async function getAvatar(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

const withPicture = (n: number, start: number) => igsids(400, start).filter((id) => simulatedProfile(id).profile_pic !== null).slice(0, n);
const maxAgeOf = (headers: Headers) => Number(/max-age=(\d+)/.exec(headers.get('cache-control') ?? '')?.[1]);

/** A loopback HTTP server that counts what it is asked and answers with `handler`. */
async function startEdge(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe('avatars', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: AVATAR_ENV, sim: { selfCdn: true } });
  });
  afterAll(async () => stack.close());
  beforeEach(() => {
    stack.sim.configure({ cdnAnswer: 'ok', profileOverrides: {} });
    stack.sim.resetCalls();
  });

  it('avatarUrl is an absolute, signed gateway URL that reveals no token', async () => {
    const [id] = withPicture(1, 1);
    const url = await avatarUrlOf(stack, id!);
    const account = stack.gateway.accounts.only()!.id;
    expect(url).toMatch(new RegExp(`^http://localhost:\\d+/avatars/${account}/${id}\\.[A-Za-z0-9_-]{22}$`));
    expect(new URL(url).port).toBe(new URL(stack.url).port);
    expect(url).not.toContain(TEST_TOKEN);
  });

  it('answers the picture bytes from the CDN with type, ETag, Cache-Control within the URL validity, and X-Avatar-Source', async () => {
    const [id] = withPicture(1, 10);
    const url = await avatarUrlOf(stack, id!);
    stack.sim.resetCalls();
    const answer = await getAvatar(url);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('x-avatar-source')).toBe('instagram');
    expect(answer.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(answer.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(cdnCalls(stack)).toHaveLength(1);
    // The bytes are exactly what the CDN serves for the person's current profile_pic.
    const profilePic = (await stack.gql<{ instagramUser: { profilePic: string; profilePicExpiresAt: string } }>(`{ instagramUser(id: "${id}") { profilePic profilePicExpiresAt } }`)).data!.instagramUser;
    expect(new URL(profilePic.profilePic).origin).toBe(stack.sim.url);
    const direct = Buffer.from(await (await fetch(profilePic.profilePic)).arrayBuffer());
    expect(answer.bytes.equals(direct)).toBe(true);
    expect(maxAgeOf(answer.headers)).toBeLessThanOrEqual(Math.ceil((Date.parse(profilePic.profilePicExpiresAt) - Date.now()) / 1000));
    expect(maxAgeOf(answer.headers)).toBeGreaterThan(0);
  });

  it('serves a repeat from cache: 0 CDN fetches, 0 Graph reads', async () => {
    const [id] = withPicture(1, 20);
    const url = await avatarUrlOf(stack, id!);
    const first = await getAvatar(url);
    stack.sim.resetCalls();
    for (let i = 0; i < 5; i++) {
      const again = await getAvatar(url);
      expect(again.bytes.equals(first.bytes)).toBe(true);
      expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    }
    expect(stack.sim.calls).toHaveLength(0);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/igpg_avatar_lookups_total\{account="[^"]+",result="hit"\} [1-9]/);
    expect(metrics).toMatch(/igpg_avatar_cdn_fetches_total\{account="[^"]+",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/igpg_avatar_bytes_served_total\{account="[^"]+",source="instagram"\} [1-9]/);
    expect(metrics).toMatch(/igpg_avatar_cache_bytes [1-9]/);
  });

  it('answers 304 on a matching If-None-Match, with no body and no upstream work', async () => {
    const [id] = withPicture(1, 30);
    const url = await avatarUrlOf(stack, id!);
    const first = await getAvatar(url);
    stack.sim.resetCalls();
    const revalidated = await getAvatar(url, { 'if-none-match': `"other", ${first.headers.get('etag')}` });
    expect(revalidated.status).toBe(304);
    expect(revalidated.bytes.length).toBe(0);
    expect(revalidated.headers.get('etag')).toBe(first.headers.get('etag'));
    expect((await getAvatar(url, { 'if-none-match': '"other"' })).status).toBe(200);
    expect(stack.sim.calls).toHaveLength(0);
  });

  it('20 concurrent requests for a cold avatar cost 1 Graph read and 1 CDN fetch', async () => {
    const [id] = withPicture(1, 40);
    const url = await avatarUrlOf(stack, id!);
    await stack.gateway.accounts.only()!.forget([id!]);
    stack.sim.resetCalls();
    const answers = await Promise.all(Array.from({ length: 20 }, () => getAvatar(url)));
    expect(answers.map((answer) => answer.headers.get('x-avatar-source'))).toEqual(Array(20).fill('instagram'));
    expect(new Set(answers.map((answer) => answer.headers.get('etag'))).size).toBe(1);
    expect(cdnCalls(stack)).toHaveLength(1);
    expect(graphReads(stack)).toHaveLength(1);
  });

  it('keeps the same avatarUrl when the profile and its CDN URL change', async () => {
    const [id] = withPicture(1, 50);
    // Different selections each time: the whole-response cache must not answer the second read.
    const read = async (extra: string) =>
      (await stack.gql<{ instagramUser: { profilePic: string; avatarUrl: string } }>(`{ instagramUser(id: "${id}") { profilePic avatarUrl ${extra} } }`)).data!.instagramUser;
    const before = await read('');
    // A later (still plausible) expiry: Meta's URLs change on every refresh.
    const later = (Math.floor(Date.now() / 1000) + 5 * 86_400).toString(16).toUpperCase();
    const moved = before.profilePic.replace(/oe=[0-9A-F]{8}/, `oe=${later}`);
    stack.sim.configure({ profileOverrides: { [id!]: { profile_pic: moved } } });
    await stack.gateway.accounts.only()!.forget([id!]);
    const after = await read('username');
    expect(after.profilePic).toBe(moved);
    expect(after.avatarUrl).toBe(before.avatarUrl);
  });

  it('a tampered, unsigned or foreign avatar URL is a 404 with no upstream work', async () => {
    const [id, other] = withPicture(2, 60);
    const url = await avatarUrlOf(stack, id!);
    stack.sim.resetCalls();
    const signature = url.slice(url.lastIndexOf('.') + 1);
    const flipped = signature.slice(0, -1) + (signature.endsWith('A') ? 'B' : 'A');
    const base = url.slice(0, url.lastIndexOf('/'));
    const bad = [
      `${base}/${id}.${flipped}`,
      `${base}/${other}.${signature}`,
      `${base}/${id}`,
      `${base}/${id}.`,
      `${base}/${id}.${signature}x`,
      url.replace(/\/avatars\/[^/]+\//, '/avatars/17841400000009999/'),
      url.replace(/\/avatars\/[^/]+\//, '/avatars/..%2F..%2Fetc/'),
      `${stack.url}/avatars/${id}.${signature}`,
    ];
    for (const candidate of bad) {
      const answer = await getAvatar(candidate);
      expect(answer.status, candidate).toBe(404);
      expect(answer.headers.get('x-avatar-source')).toBeNull();
    }
    expect(stack.sim.calls).toHaveLength(0);
  });

  describe('placeholders, never a broken image', () => {
    const expectPlaceholder = (answer: Awaited<ReturnType<typeof getAvatar>>) => {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-avatar-source')).toBe('placeholder');
      expect(answer.headers.get('content-type')).toBe('image/svg+xml');
      expect(maxAgeOf(answer.headers)).toBeLessThanOrEqual(60);
      expect(answer.bytes.toString()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^]*<\/svg>$/);
      return answer.bytes.toString();
    };

    it('no picture set: the initials, without asking the CDN', async () => {
      const id = igsids(400, 70).find((candidate) => simulatedProfile(candidate).profile_pic === null && simulatedProfile(candidate).name !== null)!;
      const [first, last] = simulatedProfile(id).name!.split(' ');
      const svg = expectPlaceholder(await getAvatar(await avatarUrlOf(stack, id)));
      expect(svg).toContain(`>${first![0]}${last![0]}</text>`.toUpperCase().replace('</TEXT>', '</text>'));
      expect(cdnCalls(stack)).toHaveLength(0);
    });

    it('profile unreadable (consent withdrawn, blocked): a silhouette', async () => {
      for (const [id, kind] of [[withPicture(1, 90)[0]!, 'consent'], [withPicture(1, 95)[0]!, 'blocked']] as const) {
        // The link was handed out while the profile was readable; now Meta refuses it.
        const url = await avatarUrlOf(stack, id);
        stack.sim.setScenario(id, { kind });
        await stack.gateway.accounts.only()!.forget([id]);
        const svg = expectPlaceholder(await getAvatar(url));
        expect(svg).not.toContain('<text');
        stack.sim.setScenario(id, null);
      }
      expect(cdnCalls(stack)).toHaveLength(0);
    });

    it('a CDN that keeps refusing (403): one fresh profile read, one retry, then the placeholder', async () => {
      const [id] = withPicture(1, 85);
      const url = await avatarUrlOf(stack, id!);
      await stack.gql(`{ instagramUser(id: "${id}") { name username profilePic } }`);
      stack.sim.configure({ cdnAnswer: 'forbidden' });
      stack.sim.resetCalls();
      expectPlaceholder(await getAvatar(url));
      expect(cdnCalls(stack).map((call) => call.status)).toEqual([403, 403]);
      expect(graphReads(stack)).toHaveLength(1);
    });

    it('CDN failing, or answering something that is not an image', async () => {
      const [failing, html] = withPicture(2, 80);
      stack.sim.configure({ cdnAnswer: 'error' });
      expectPlaceholder(await getAvatar(await avatarUrlOf(stack, failing!)));
      stack.sim.configure({ cdnAnswer: 'html' });
      expectPlaceholder(await getAvatar(await avatarUrlOf(stack, html!)));
      expect(cdnCalls(stack).map((call) => call.status)).toEqual([503, 200]);
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      expect(metrics).toMatch(/igpg_avatar_placeholders_total\{account="[^"]+",reason="cdn_failed"\} [1-9]/);
      expect(metrics).toMatch(/igpg_avatar_placeholders_total\{account="[^"]+",reason="not_image"\} [1-9]/);
      expect(metrics).toMatch(/igpg_avatar_cdn_fetches_total\{account="[^"]+",outcome="http_error"\} [1-9]/);
    });
  });

  describe('only allowed hosts are ever fetched', () => {
    let rogue: Awaited<ReturnType<typeof startEdge>>;
    let edge: Awaited<ReturnType<typeof startEdge>>;
    beforeAll(async () => {
      rogue = await startEdge((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
      // An allowed host (127.0.0.1) that misbehaves in every way but a timeout.
      edge = await startEdge((req, res) => {
        if (req.url === '/out') res.writeHead(302, { location: `http://localhost:${rogue.port}/pic.png` }).end();
        else if (req.url === '/big') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(3 * 1024 * 1024)]));
        else if (req.url === '/svg') res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
        else res.writeHead(404).end();
      });
    });
    afterAll(async () => {
      for (const server of [rogue.server, edge.server]) await new Promise((resolve) => server.close(resolve));
    });
    afterEach(() => {
      rogue.hits.length = 0;
      edge.hits.length = 0;
    });

    it('a profile_pic on another host gets the placeholder and is never requested', async () => {
      const ids = withPicture(3, 100);
      const urls = [`http://localhost:${rogue.port}/pic.png?oe=7FFFFFFF`, `https://169.254.169.254/latest/meta-data?oe=7FFFFFFF`, `ftp://127.0.0.1:${rogue.port}/pic.png`];
      stack.sim.configure({ profileOverrides: Object.fromEntries(ids.map((id, i) => [id, { profile_pic: urls[i]! }])) });
      for (const id of ids) expect((await getAvatar(await avatarUrlOf(stack, id))).headers.get('x-avatar-source')).toBe('placeholder');
      expect(rogue.hits).toEqual([]);
      expect(cdnCalls(stack)).toHaveLength(0);
    });

    it('no redirect off the list, no body over AVATAR_MAX_BYTES, no SVG from the CDN', async () => {
      const ids = withPicture(3, 120);
      const paths = ['/out', '/big', '/svg'];
      stack.sim.configure({ profileOverrides: Object.fromEntries(ids.map((id, i) => [id, { profile_pic: `http://127.0.0.1:${edge.port}${paths[i]}` }])) });
      for (const id of ids) expect((await getAvatar(await avatarUrlOf(stack, id))).headers.get('x-avatar-source')).toBe('placeholder');
      expect(edge.hits).toEqual(paths);
      expect(rogue.hits).toEqual([]);
    });

    it('accepts https on the listed hosts only, plain http only on loopback', () => {
      const meta = ['*.cdninstagram.com', '*.fbcdn.net'];
      expect(fetchableUrl('https://scontent-ams2-1.cdninstagram.com/v/x.jpg?oe=1', undefined, meta)).not.toBeNull();
      expect(fetchableUrl('https://scontent.xx.fbcdn.net/v/x.jpg', undefined, meta)).not.toBeNull();
      for (const refused of [
        'http://scontent.cdninstagram.com/v/x.jpg',
        'https://cdninstagram.com.evil.example/x.jpg',
        'https://evilcdninstagram.com/x.jpg',
        'https://evil.example/x.jpg?h=.cdninstagram.com',
        'https://user:pw@scontent.cdninstagram.com/x.jpg',
        'file:///etc/passwd',
        'not a url',
      ]) {
        expect(fetchableUrl(refused, undefined, meta), refused).toBeNull();
      }
      expect(fetchableUrl('http://127.0.0.1:9/x.png', undefined, ['127.0.0.1'])).not.toBeNull();
      expect(fetchableUrl('http://127.0.0.1:9/x.png', undefined, meta)).toBeNull();
    });
  });

  it('fetchedAt says when the answered data was read from Meta, and stays put while cached', async () => {
    const [id] = igsids(1, 140);
    const before = Date.now();
    const read = async () => (await stack.gql<{ instagramUser: { username: string; fetchedAt: string } }>(`{ instagramUser(id: "${id}") { username fetchedAt } }`)).data!.instagramUser;
    const first = await read();
    expect(Date.parse(first.fetchedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(first.fetchedAt)).toBeLessThanOrEqual(Date.now());
    expect(first.fetchedAt).toBe(new Date(Date.parse(first.fetchedAt)).toISOString());
    expect((await read()).fetchedAt).toBe(first.fetchedAt);
  });
});

describe('avatar expiry and recovery', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('past the URL expiry, the profile is read again for a fresh URL, then the bytes', async () => {
    stack = await startStack({ env: { ...AVATAR_ENV, PROFILE_PIC_EXPIRY_MARGIN_SECONDS: '0' }, sim: { selfCdn: true, profilePicTtlSeconds: 3 } });
    const [id] = withPicture(1, 200);
    const url = await avatarUrlOf(stack, id!);
    const first = await getAvatar(url);
    expect(first.headers.get('x-avatar-source')).toBe('instagram');
    expect(maxAgeOf(first.headers)).toBeLessThanOrEqual(3);
    // Wait until the picture's oe= has passed (the simulator's CDN now answers 403 for the old URL).
    const profile = await stack.gql<{ instagramUser: { profilePicExpiresAt: string } }>(`{ instagramUser(id: "${id}") { profilePicExpiresAt } }`);
    const expiresAt = Date.parse(profile.data!.instagramUser.profilePicExpiresAt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 50));
    stack.sim.resetCalls();
    const second = await getAvatar(url);
    expect(second.headers.get('x-avatar-source')).toBe('instagram');
    expect(graphReads(stack)).toHaveLength(1);
    expect(cdnCalls(stack).map((call) => call.status)).toEqual([200]);
  });

  it('a URL the CDN refuses (403) before its expiry makes the profile be read again, once', async () => {
    stack = await startStack({ env: AVATAR_ENV, sim: { selfCdn: true } });
    const [id] = withPicture(1, 210);
    const good = (await stack.gql<{ instagramUser: { profilePic: string } }>(`{ instagramUser(id: "${id}") { profilePic } }`)).data!.instagramUser.profilePic;
    await stack.gateway.accounts.only()!.forget([id!]);
    // The profile cache now holds a URL whose signature the CDN rejects; Meta's next answer is good.
    stack.sim.configure({ profileOverrides: { [id!]: { profile_pic: good.replace(/oh=00_[0-9a-f]/, 'oh=00_x') } } });
    await stack.gql(`{ instagramUser(id: "${id}") { profilePic username name } }`);
    stack.sim.configure({ profileOverrides: {} });
    stack.sim.resetCalls();
    const answer = await getAvatar(await avatarUrlOf(stack, id!));
    expect(answer.headers.get('x-avatar-source')).toBe('instagram');
    expect(cdnCalls(stack).map((call) => call.status)).toEqual([403, 200]);
    expect(graphReads(stack)).toHaveLength(1);
  });

  it('a CDN slower than AVATAR_FETCH_TIMEOUT_MS, or more fetches than AVATAR_MAX_CONCURRENT_FETCHES: placeholders, the busy one never kept', async () => {
    const hanging = await startEdge(() => undefined);
    try {
      stack = await startStack({ env: { ...AVATAR_ENV, AVATAR_FETCH_TIMEOUT_MS: '1000', AVATAR_MAX_CONCURRENT_FETCHES: '1' }, sim: { selfCdn: true } });
      const [slow, other] = withPicture(2, 230);
      const urls = [await avatarUrlOf(stack, slow!), await avatarUrlOf(stack, other!)];
      stack.sim.configure({ profileOverrides: { [slow!]: { profile_pic: `http://127.0.0.1:${hanging.port}/slow.png` } } });
      await stack.gateway.accounts.only()!.forget([slow!]);
      const pending = getAvatar(urls[0]!);
      // The slow fetch holds the only slot: the other picture is not queued behind it.
      while (hanging.hits.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const busy = await getAvatar(urls[1]!);
      expect(busy.headers.get('x-avatar-source')).toBe('placeholder');
      expect(maxAgeOf(busy.headers)).toBe(0);
      const timedOut = await pending;
      expect(timedOut.headers.get('x-avatar-source')).toBe('placeholder');
      expect((await getAvatar(urls[1]!)).headers.get('x-avatar-source')).toBe('instagram');
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      expect(metrics).toMatch(/igpg_avatar_cdn_fetches_total\{account="[^"]+",outcome="timeout"\} 1/);
      expect(metrics).toMatch(/igpg_avatar_placeholders_total\{account="[^"]+",reason="busy"\} 1/);
    } finally {
      hanging.server.closeAllConnections();
      await new Promise((resolve) => hanging.server.close(resolve));
    }
  });

  it('the same avatarUrl on every replica and across restarts (PUBLIC_URL, same key)', async () => {
    const env = { ...AVATAR_ENV, PUBLIC_URL: 'https://gateway.example.com/ig/' };
    stack = await startStack({ env, sim: { selfCdn: true } });
    const [id] = withPicture(1, 220);
    const url = await avatarUrlOf(stack, id!);
    expect(url.startsWith('https://gateway.example.com/ig/avatars/')).toBe(true);
    const other = await startStack({ env, sim: { selfCdn: true } });
    try {
      expect(await avatarUrlOf(other, id!)).toBe(url);
      const keyed = await startStack({ env: { ...env, AVATAR_SIGNING_KEY: 'another-signing-key-0123456789' }, sim: { selfCdn: true } });
      try {
        expect(await avatarUrlOf(keyed, id!)).not.toBe(url);
      } finally {
        await keyed.close();
      }
    } finally {
      await other.close();
    }
  });
});

describe.runIf(redisOk)('avatar bytes shared through Redis', () => {
  it('a second replica serves a picture the first fetched: 0 CDN fetches, 0 Graph reads; a corrupt value is a miss', async () => {
    const env = { ...AVATAR_ENV, REDIS_URL: SHARED_REDIS_URL, CACHE_KEY_PREFIX: `avatar-test-${randomUUID().slice(0, 8)}` };
    const first = await startStack({ env, sim: { selfCdn: true } });
    // The second replica reads the same simulator (same Meta, same CDN).
    const config = loadConfig({ INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN, INSTAGRAM_GRAPH_URL: first.sim.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
    const second = await createGateway(config, createLogger({ level: 'silent', secrets: [] }));
    try {
      const secondUrl = await second.listen();
      const ready = async (url: string) => ((await (await fetch(`${url}/readyz`)).json()) as { cache: { status: string } }).cache.status === 'ok';
      const deadline = Date.now() + 5000;
      while (!(await ready(first.url)) || !(await ready(secondUrl))) {
        if (Date.now() > deadline) throw new Error('Redis not ready on both replicas');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const [id, corrupt] = withPicture(2, 300);
      const url = await avatarUrlOf(first, id!);
      const fetched = await getAvatar(url);
      first.sim.resetCalls();
      const shared = await getAvatar(url.replace(new URL(first.url).port, new URL(secondUrl).port));
      expect(shared.headers.get('x-avatar-source')).toBe('instagram');
      expect(shared.bytes.equals(fetched.bytes)).toBe(true);
      expect(first.sim.calls).toHaveLength(0);

      // A value that fails validation is ignored: the picture is fetched again.
      const corruptUrl = await avatarUrlOf(first, corrupt!);
      // Keyv's envelope around a value our schema refuses (bytes that are not base64 text).
      const key = `keyv::${env.CACHE_KEY_PREFIX}:${first.gateway.accounts.only()!.id}:avatar:${corrupt}`;
      const bad = JSON.stringify({ source: 'instagram', contentType: 'image/png', b64: 7, etag: '"x"', expiresAt: Date.now() + 60_000 });
      expect(await redisCommand(['SET', key, JSON.stringify({ value: bad, expires: null }), 'PX', '60000'])).toBe('+OK');
      first.sim.resetCalls();
      const recovered = await getAvatar(corruptUrl.replace(new URL(first.url).port, new URL(secondUrl).port));
      expect(recovered.headers.get('x-avatar-source')).toBe('instagram');
      expect(cdnCalls(first).length).toBe(1);
      expect(await redisCommand(['GET', key])).not.toContain('"b64":7');
    } finally {
      await second.close();
      await first.close();
    }
  });
});

/** One Redis command (RESP) against the shared test Redis; resolves with the first reply line. */
function redisCommand(args: string[]): Promise<string> {
  const { hostname, port } = new URL(SHARED_REDIS_URL);
  const frame = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.write(frame));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().trim());
    });
    socket.once('error', reject);
  });
}
