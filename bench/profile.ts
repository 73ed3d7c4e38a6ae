// `node dist/bench/profile.js`: a CPU profile (node --cpu-prof) of the gateway while it answers P3
// (one hot repeated body) and, in a second process, P5 (warm pages, every body distinct), then the
// top frames by self time. Profiles land in PROFILE_DIR (default /tmp/gateway-profiles). Loopback only.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator } from '../src/simulator/index.js';
import { load, rawPost } from './loader.js';
import { spawnBenchGateway } from './spawn.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const DIR = process.env.PROFILE_DIR ?? '/tmp/gateway-profiles';
const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name followerCount } }';
const MANY = 'query Many($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name followerCount } }';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds between samples. */
  timeDeltas: number[];
}

async function post(url: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  if (!response.ok) throw new Error(`answer ${response.status}`);
  await response.text();
}

/** `drive` calls `measure()` when its warm-up is over: samples before it (start-up, JIT) are left out. */
async function profile(label: string, simUrl: string, drive: (url: string, measure: () => void) => Promise<void>) {
  const dir = join(DIR, label);
  mkdirSync(dir, { recursive: true });
  const spawnedAt = performance.now();
  let skipMs = 0;
  const { child, url } = await spawnBenchGateway(simUrl, { CACHE_KEY_PREFIX: `profile${Date.now()}` }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  await drive(url, () => (skipMs = performance.now() - spawnedAt));
  await new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  const file = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort().at(-1)!;
  summarise(label, withoutFirst(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, skipMs));
}

/** The profile without its first `ms` (the profile starts a little after the spawn: it skips a little more). */
function withoutFirst(cpu: CpuProfile, ms: number): CpuProfile {
  let at = 0;
  const keep = cpu.timeDeltas.map((delta) => (at += delta) >= ms * 1000);
  return { ...cpu, samples: cpu.samples.filter((_, i) => keep[i]), timeDeltas: cpu.timeDeltas.filter((_, i) => keep[i]) };
}

/** Self time per function (name + file:line), top 20, as a share of all samples. */
function summarise(label: string, cpu: CpuProfile) {
  const byId = new Map(cpu.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of cpu.samples) {
    const frame = byId.get(id)!.callFrame;
    const where = frame.url ? `${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const byPackage = new Map<string, number>();
  for (const id of cpu.samples) {
    const url = byId.get(id)!.callFrame.url;
    const where = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.includes('/dist/src/') ? 'gateway src' : url.startsWith('node:') ? 'node internals' : url ? 'other' : byId.get(id)!.callFrame.functionName);
    byPackage.set(where, (byPackage.get(where) ?? 0) + 1);
  }
  const share = (count: number) => `${((100 * count) / cpu.samples.length).toFixed(1)}%`;
  console.log(`\n${label}: self time by package: ${[...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([name, count]) => `${name} ${share(count)}`).join(', ')}`);
  const busyMs = cpu.samples.reduce((sum, id, i) => sum + (byId.get(id)!.callFrame.functionName === '(idle)' ? 0 : cpu.timeDeltas[i]!), 0) / 1000;
  console.log(`${label}: ${cpu.samples.length} samples, ${busyMs.toFixed(0)} ms busy; top frames by self time`);
  for (const [key, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 20))) {
    console.log(`  ${((100 * count) / cpu.samples.length).toFixed(1).padStart(5)}%  ${key}`);
  }
}

/** BENCH_PROFILES=p1 (or p3, p5; comma-separated) profiles only those scenarios. */
const only = process.env.BENCH_PROFILES?.split(',').map((word) => word.trim());
const wanted = (label: string) => !only || only.some((word) => label.startsWith(word));
const COLD_QUERIES = 40;

const sim = await startSimulator({ latencyMs: 40 });
try {
  if (wanted('p1')) {
    await profile('p1-cold', sim.url, async (url, measure) => {
      // One query of 200 never-asked ids at a time, as P1 of bench/run.ts, COLD_QUERIES times after as many unmeasured.
      let next = 1784159996000000;
      const walls: number[] = [];
      for (let n = 0; n < 2 * COLD_QUERIES; n++) {
        if (n === COLD_QUERIES) (measure(), (walls.length = 0));
        const started = performance.now();
        await post(url, MANY, { ids: Array.from({ length: 200 }, () => String(next++)) });
        walls.push(performance.now() - started);
      }
      walls.sort((a, b) => a - b);
      console.log(`p1-cold: wall median ${walls[walls.length >> 1]!.toFixed(1)} ms over ${COLD_QUERIES} measured queries (profiled process)`);
    });
  }
  if (wanted('p3')) await profile('p3-hot', sim.url, async (url, measure) => {
    await post(url, ONE, { id: '1784159999000001' });
    measure();
    await load(url, [rawPost(url, '/graphql', JSON.stringify({ query: ONE, variables: { id: '1784159999000001' } }))], { connections: 32, seconds: SECONDS });
  });
  if (wanted('p5')) await profile('p5-pages', sim.url, async (url, measure) => {
    const people = Array.from({ length: 1000 }, (_, i) => String(1784159998000000 + i));
    for (let i = 0; i < people.length; i += 100) await post(url, MANY, { ids: people.slice(i, i + 100) });
    const bodies = Array.from({ length: 16_000 * SECONDS }, () => {
      const page = new Set<string>();
      while (page.size < 20) page.add(people[Math.floor(Math.random() * people.length)]!);
      return rawPost(url, '/graphql', JSON.stringify({ query: MANY, variables: { ids: [...page] } }));
    });
    measure();
    await load(url, bodies, { connections: 32, seconds: SECONDS, once: true });
  });
} finally {
  await sim.close();
}
