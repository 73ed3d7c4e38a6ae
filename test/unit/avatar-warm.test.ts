import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AvatarMetrics } from '../../src/avatars/metrics.js';
import { AvatarService, WARM_QUEUE_LIMIT } from '../../src/avatars/service.js';
import { AvatarStore } from '../../src/avatars/store.js';
import type { GraphProfile } from '../../src/graph/profile.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import type { AccountProfiles } from '../../src/profiles/account.js';
import { pictureOf } from '../../src/simulator/cdn.js';
import { ManualClock } from '../support/manual-clock.js';
import { waitFor } from '../support/wait.js';

/** A loopback CDN: `/<asset>.png` answers that asset's PNG (or 503 for `/down…`); `hold` keeps answers back until `release()`. */
let cdn: Server;
let base = '';
let hits: string[] = [];
let open = 0;
let mostOpen = 0;
let hold = false;
let held: Array<() => void> = [];
const release = () => {
  hold = false;
  for (const answer of held.splice(0)) answer();
};
beforeAll(async () => {
  cdn = createServer((req, res: ServerResponse) => {
    hits.push(req.url ?? '');
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    const answer = () => {
      open -= 1;
      if (req.url?.startsWith('/down')) res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'image/png' }).end(pictureOf(req.url ?? ''));
    };
    if (hold) held.push(answer);
    else answer();
  });
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => cdn.close(() => resolve())));
beforeEach(() => {
  hits = [];
  mostOpen = 0;
  hold = false;
  held = [];
});

const TTL = 60_000;

function setup(warmConcurrency = 2) {
  const clock = new ManualClock(Date.now());
  const metrics = new Metrics();
  const store = new AvatarStore({ maxBytes: 10_000_000, maxValueBytes: 1_000_000, shared: undefined, clock });
  const service = new AvatarService({
    store,
    cdn: { allowedHosts: ['127.0.0.1'], maxBytes: 1_000_000, timeoutMs: 5000 },
    keyPrefix: 'w',
    maxConcurrent: 8,
    warmConcurrency,
    refreshHorizonMs: TTL,
    fallbackTtlMs: TTL,
    clock,
    metrics: new AvatarMetrics(metrics, () => store.memoryBytes()),
    logger: createLogger({ level: 'silent' }),
  });
  /** What Meta currently answers for each person: the profile cache behind `get`. */
  const current = new Map<string, GraphProfile>();
  const account = {
    id: 'acct',
    source: { load: async (ids: readonly string[]) => new Map(ids.map((id) => [id, { ok: true, profile: current.get(id) ?? { id } }])) },
    forget: async () => undefined,
  } as unknown as AccountProfiles;
  const person = (id: string, asset: string | null): GraphProfile => {
    const profile = { id, name: 'Ana Lima', username: `u${id}`, profile_pic: asset === null ? null : `${base}/${asset}.png?oe=7FFFFFFF` };
    current.set(id, profile);
    return profile;
  };
  const warms = async (result: string) => (await metrics.registry.getSingleMetric('igpg_avatar_warms_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { service, account, person, warms, store };
}

describe('AvatarService.warm (what refresh-ahead calls)', () => {
  it('fetches a cached picture whose URL changed; leaves unchanged and never-asked pictures alone', async () => {
    const h = setup();
    h.person('1', 'a1');
    h.person('2', 'a2');
    for (const id of ['1', '2']) expect((await h.service.get(h.account, id)).source).toBe('instagram');
    hits = [];
    h.service.warm(h.account, [h.person('1', 'b1'), h.person('2', 'a2'), h.person('3', 'a3')], undefined);
    await waitFor(async () => (await h.warms('fetched')) + (await h.warms('current')) + (await h.warms('not_cached')) === 3);
    expect([await h.warms('fetched'), await h.warms('current'), await h.warms('not_cached')]).toEqual([1, 1, 1]);
    expect(hits).toEqual(['/b1.png?oe=7FFFFFFF']);
    // The next request is a cache hit with the new bytes.
    hits = [];
    expect((await h.service.get(h.account, '1')).bytes.equals(pictureOf('/b1.png?oe=7FFFFFFF'))).toBe(true);
    expect(hits).toEqual([]);
  });

  it('runs at most AVATAR_WARM_CONCURRENCY fetches at once; a request for a picture being warmed joins it; beyond the queue limit pictures are dropped', async () => {
    const h = setup(2);
    const ids = Array.from({ length: 6 }, (_, i) => String(10 + i));
    for (const id of ids) h.person(id, `old${id}`);
    for (const id of ids) await h.service.get(h.account, id);
    hits = [];
    hold = true;
    const others = Array.from({ length: WARM_QUEUE_LIMIT }, (_, i) => ({ id: String(1000 + i) }));
    h.service.warm(h.account, [...ids.map((id) => h.person(id, `new${id}`)), ...others], undefined);
    expect(await h.warms('dropped')).toBe(6);
    await waitFor(() => held.length === 2);
    // An interactive request for a picture being warmed waits for that fetch, it does not start another.
    const joined = h.service.get(h.account, ids[0]!);
    release();
    expect((await joined).bytes.equals(pictureOf(`/new${ids[0]}.png?oe=7FFFFFFF`))).toBe(true);
    await waitFor(async () => (await h.warms('fetched')) === 6, { what: 'six pictures warmed' });
    expect(mostOpen).toBe(2);
    expect(hits.filter((hit) => hit.startsWith(`/new${ids[0]}`))).toHaveLength(1);
    await h.service.close();
  });

  it('fetches nothing while the account has no headroom (paused, usage); keeps the cached picture when the CDN fails or the host is not allowed', async () => {
    const h = setup();
    h.person('1', 'a1');
    const before = await h.service.get(h.account, '1');
    hits = [];
    h.service.warm(h.account, [h.person('1', 'b1')], 'paused');
    h.service.warm(h.account, [h.person('1', 'b1')], 'usage');
    expect([await h.warms('paused'), await h.warms('usage')]).toEqual([1, 1]);
    expect(hits).toEqual([]);

    h.service.warm(h.account, [h.person('1', 'down1')], undefined);
    await waitFor(async () => (await h.warms('failed')) === 1);
    expect((await h.service.get(h.account, '1')).etag).toBe(before.etag);
    // Only allowed hosts, as always: a picture elsewhere is never requested.
    h.service.warm(h.account, [{ id: '1', profile_pic: `http://localhost:${new URL(base).port}/elsewhere.png?oe=7FFFFFFF` }], undefined);
    await waitFor(async () => (await h.warms('failed')) === 2);
    expect((await h.service.get(h.account, '1')).etag).toBe(before.etag);
    await h.service.close();
    h.service.warm(h.account, [h.person('1', 'b1')], undefined);
    expect(hits).toEqual(['/down1.png?oe=7FFFFFFF']);
  });
});
