// `npm run bench:soak`: one gateway and the simulator (40 ms upstream latency) under a mix of hot
// repeats, warm pages and cold ids for SOAK_SECONDS (default 300), in 10 s phases; the gateway's RSS
// is read from /metrics after every phase. Passes when RSS after minute 2 never rises more than
// SOAK_MAX_GROWTH_PERCENT (default 5) above its value at minute 2; exits 1 otherwise.
// Bounded: each phase sends at most PHASE_MAX_REQUESTS pre-built requests over CONNECTIONS
// connections, all on 127.0.0.1. SOAK_ENV (JSON) adds settings to the gateway's environment.
import { startSimulator } from '../src/simulator/index.js';
import { load, rawPost } from './loader.js';
import { spawnBenchGateway } from './spawn.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const MAX_GROWTH_PERCENT = Number(process.env.SOAK_MAX_GROWTH_PERCENT ?? 5);
const SETTLE_SECONDS = 120;
const PHASE_SECONDS = 10;
const PHASE_MAX_REQUESTS = 60_000;
const CONNECTIONS = 16;
const WARM_PEOPLE = 1000;
const PAGE = 20;
const COLD_PER_QUERY = 10;

const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name followerCount } }';
const MANY = 'query Many($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name followerCount } }';

let nextId = 1784150000000000 + Math.floor(Math.random() * 1e9) * 1000;
const freshIds = (n: number) => Array.from({ length: n }, () => String(nextId++));

/** RSS, and the V8 heap in use, in MiB (from /metrics). */
async function memory(url: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const mib = (name: string) => Number(new RegExp(`^igpg_${name} (\\d+)`, 'm').exec(text)?.[1]) / 2 ** 20;
  return { rss: mib('process_resident_memory_bytes'), heap: mib('nodejs_heap_size_used_bytes') };
}

/** One phase's requests: per 10, six hot repeats, three warm pages (distinct bodies), one query of cold ids. */
function phase(url: string, hotId: string, people: string[]): Buffer[] {
  const hot = rawPost(url, '/graphql', JSON.stringify({ query: ONE, variables: { id: hotId } }));
  return Array.from({ length: PHASE_MAX_REQUESTS }, (_, n) => {
    const slot = n % 10;
    if (slot < 6) return hot;
    if (slot < 9) {
      const page = new Set<string>();
      while (page.size < PAGE) page.add(people[Math.floor(Math.random() * people.length)]!);
      return rawPost(url, '/graphql', JSON.stringify({ query: MANY, variables: { ids: [...page] } }));
    }
    return rawPost(url, '/graphql', JSON.stringify({ query: MANY, variables: { ids: freshIds(COLD_PER_QUERY) } }));
  });
}

const sim = await startSimulator({ latencyMs: 40 });
const extra = process.env.SOAK_ENV ? (JSON.parse(process.env.SOAK_ENV) as Record<string, string>) : {};
const { child, url } = await spawnBenchGateway(sim.url, { CACHE_KEY_PREFIX: `soak${Date.now()}`, ...extra });
let failed = false;
try {
  const people = freshIds(WARM_PEOPLE);
  const [hotId] = freshIds(1);
  for (const ids of [[hotId!], ...Array.from({ length: WARM_PEOPLE / 100 }, (_, i) => people.slice(i * 100, (i + 1) * 100))]) {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: MANY, variables: { ids } }) });
    if (!response.ok) throw new Error(`warming answered ${response.status}`);
  }
  console.log(`soak: ${SECONDS} s of hot repeats (60 %), warm pages (30 %) and queries of ${COLD_PER_QUERY} cold ids (10 %), ${CONNECTIONS} connections${Object.keys(extra).length ? `, ${JSON.stringify(extra)}` : ''}`);
  const before = await memory(url);
  console.log(`    0 s  RSS ${before.rss.toFixed(0)} MiB, heap used ${before.heap.toFixed(0)} MiB`);
  const started = performance.now();
  const samples: Array<{ at: number; rss: number }> = [];
  while ((performance.now() - started) / 1000 < SECONDS) {
    const result = await load(url, phase(url, hotId!, people), { connections: CONNECTIONS, seconds: PHASE_SECONDS, once: true });
    if (result.errors || result.non2xx) throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx answers`);
    const at = (performance.now() - started) / 1000;
    const { rss, heap } = await memory(url);
    samples.push({ at, rss });
    console.log(`${at.toFixed(0).padStart(5)} s  RSS ${rss.toFixed(0)} MiB, heap used ${heap.toFixed(0)} MiB  (${result.reqPerSec.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(0)} ms)`);
  }
  const settled = samples.find((sample) => sample.at >= SETTLE_SECONDS);
  if (!settled) {
    console.log(`soak: shorter than ${SETTLE_SECONDS} s: no growth figure`);
  } else {
    const after = samples.filter((sample) => sample.at >= settled.at);
    const peak = Math.max(...after.map((sample) => sample.rss));
    const last = after.at(-1)!.rss;
    const growth = (100 * (peak - settled.rss)) / settled.rss;
    failed = growth > MAX_GROWTH_PERCENT;
    console.log(`soak: RSS at ${settled.at.toFixed(0)} s ${settled.rss.toFixed(0)} MiB, peak after it ${peak.toFixed(0)} MiB, at the end ${last.toFixed(0)} MiB: growth ${growth.toFixed(1)} % (limit ${MAX_GROWTH_PERCENT} %) ${failed ? 'FAIL' : 'ok'}`);
  }
} finally {
  child.kill('SIGTERM');
  await sim.close();
}
if (failed) process.exitCode = 1;
