// `npm run build && node --expose-gc dist/bench/avatars.js`: figures for the avatar endpoint,
// against the simulator's fake CDN. (1) warm avatar requests/s next to a warm `instagramUser`
// query, in alternating bounded rounds on loopback (the ratio is what to compare across machines);
// (2) memory per 1,000 cached avatars: the cache's own byte count in the gateway (from /metrics),
// and the heap + buffer growth of an avatar store filled in this process, measured after a GC.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { AvatarStore } from '../src/avatars/store.js';
import { systemClock } from '../src/clock.js';
import { simulatedProfile, startSimulator } from '../src/simulator/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONNECTIONS = 32;
const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name profilePic } }';

async function startGateway(graphUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../src/index.js', import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', INSTAGRAM_ACCESS_TOKEN: 'bench-token', INSTAGRAM_GRAPH_URL: graphUrl, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', AVATAR_ALLOWED_HOSTS: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`gateway exited with code ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const address = (JSON.parse(line) as { address?: string }).address;
        if (address) {
          clearTimeout(timer);
          resolve(address);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  return { url, stop: () => new Promise((resolve) => child.once('exit', () => resolve()).kill('SIGTERM')) };
}

async function avatarUrl(gateway: string, id: string): Promise<string> {
  const response = await fetch(`${gateway}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ instagramUser(id: "${id}") { avatarUrl } }` }) });
  const body = (await response.json()) as { data: { instagramUser: { avatarUrl: string } } };
  return body.data.instagramUser.avatarUrl.replace(/^http:\/\/localhost:/, 'http://127.0.0.1:');
}

async function rate(options: autocannon.Options): Promise<number> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  if (result.non2xx || result.errors) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function metric(gateway: string, name: string): Promise<number> {
  const text = await (await fetch(`${gateway}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main() {
  const sim = await startSimulator({ selfCdn: true, latencyMs: 40 });
  const gateway = await startGateway(sim.url);
  try {
    const ids = Array.from({ length: 3000 }, (_, i) => String(1784160000000000 + i)).filter((id) => simulatedProfile(id).profile_pic !== null);
    const [hot] = ids;
    const link = await avatarUrl(gateway.url, hot!);
    const query = { url: `${gateway.url}/graphql`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ONE, variables: { id: hot } }) };
    await rate({ url: link, duration: 1 });
    await rate({ ...query, duration: 1 });
    const avatarRates: number[] = [];
    const queryRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      avatarRates.push(await rate({ url: link }));
      queryRates.push(await rate(query));
    }
    const cdnBefore = sim.calls.filter((call) => call.kind === 'cdn').length;

    const before = await metric(gateway.url, 'igpg_avatar_cache_bytes');
    const cold = ids.slice(1, 1001);
    for (let i = 0; i < cold.length; i += 50) {
      const links = await Promise.all(cold.slice(i, i + 50).map((id) => avatarUrl(gateway.url, id)));
      await Promise.all(links.map(async (url) => (await fetch(url)).arrayBuffer()));
    }
    const after = await metric(gateway.url, 'igpg_avatar_cache_bytes');
    const picture = (await (await fetch(link)).arrayBuffer()).byteLength;

    console.log(
      JSON.stringify(
        {
          rounds: ROUNDS,
          secondsPerRound: SECONDS,
          connections: CONNECTIONS,
          avatarWarmReqPerSec: Math.round(median(avatarRates)),
          instagramUserWarmReqPerSec: Math.round(median(queryRates)),
          ratio: Number((median(avatarRates) / median(queryRates)).toFixed(2)),
          cdnFetchesDuringWarmRuns: cdnBefore - 1,
          pictureBytes: picture,
          per1000Avatars: {
            gatewayCacheAccountedBytes: after - before,
            measuredInProcess: { [`${picture} B pictures`]: measureStore(picture), '10 KB pictures': measureStore(10_240) },
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await gateway.stop();
    await sim.close();
  }
}

/** Heap + ArrayBuffer growth (after a GC) of an avatar store holding 1,000 pictures of `size` bytes. */
function measureStore(size: number): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  const used = () => {
    gc();
    const memory = process.memoryUsage();
    return memory.heapUsed + memory.arrayBuffers;
  };
  const store = new AvatarStore({ maxBytes: 1024 ** 3, maxValueBytes: 1024 ** 2, shared: undefined, clock: systemClock });
  const start = used();
  for (let i = 0; i < 1000; i++) {
    const bytes = Buffer.alloc(size, i % 251);
    void store.set(`igpg:17841400000000001:avatar:${1784160000000000 + i}`, { source: 'instagram', contentType: 'image/jpeg', bytes, etag: `"${'e'.repeat(27)}"`, expiresAt: Date.now() + 3_600_000 });
  }
  const grown = used() - start;
  store.close();
  return grown;
}

await main();
