// `npm run bench`: the gateway against the built-in simulator (40 ms upstream latency, in a process of
// its own: bench/upstream.ts), side by side
// with two baselines it starts itself — the same gateway with caching and coalescing off, and a bare
// Apollo Server answering from a static object (the ceiling). All servers run at once and alternate
// round by round (A B A B); every request body is built before the timed part (bench/loader.ts).
// Bounded: every load phase has a fixed duration and request count; all traffic stays on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus } from 'node:os';
import { load, rawPost } from './loader.js';
import { replicaRows } from './replicas.js';
import { startUpstream, type Upstream } from './upstream.js';

const UPSTREAM_LATENCY_MS = 40;
const WARM_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WARM_PEOPLE = 1000;
const PAGE = 20;
/** Distinct bodies prepared for a phase (P4, P5): above what any server answers in WARM_SECONDS here. */
const BODIES_PER_PHASE = Math.min(200_000, 16_000 * WARM_SECONDS);
const WARMUP_ROUNDS = 8;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'bench-token';
/** Every server runs as deployed (graphql's development-only checks off); BENCH_NODE_ENV=development to compare. */
const BENCH_NODE_ENV = process.env.BENCH_NODE_ENV ?? 'production';

const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name followerCount } }';
const MANY = 'query Many($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name followerCount } }';

interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Starts `node <script>` and waits for the JSON line carrying its `address`. */
async function startProcess(script: string, env: Record<string, string>): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: BENCH_NODE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 20 s`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${script} exited with code ${code}`)));
    lines.on('line', (line) => {
      try {
        const address = (JSON.parse(line) as { address?: string }).address;
        if (address) {
          clearTimeout(timer);
          resolve(address.replace('0.0.0.0', '127.0.0.1'));
        }
      } catch {
        // not a JSON line
      }
    });
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function startGateway(sim: Upstream, env: Record<string, string> = {}, script = '../src/index.js'): Promise<Server> {
  return startProcess(script, {
    INSTAGRAM_ACCESS_TOKEN: TOKEN,
    INSTAGRAM_GRAPH_URL: sim.url,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...env,
  });
}

async function post(url: string, query: string, variables: Record<string, unknown>): Promise<{ ms: number; body: { data?: unknown; errors?: unknown[] } }> {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: unknown[] };
  if (!response.ok || body.errors) throw new Error(`unexpected answer ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return { ms: performance.now() - started, body };
}

let nextId = 1784150000000000;
/** Distinct, never-asked IGSIDs: every scenario starts cold. */
const coldIds = (n: number) => Array.from({ length: n }, () => String(nextId++));

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const bodyOf = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });

/** Every figure of every round, per scenario and server; the table shows the mean (round trips: the worst). */
const figures = new Map<string, Map<string, Array<Record<string, number>>>>();
function record(scenario: string, server: string, values: Record<string, number>) {
  const byServer = figures.get(scenario) ?? figures.set(scenario, new Map()).get(scenario)!;
  (byServer.get(server) ?? byServer.set(server, []).get(server)!).push(values);
  // Each figure as taken (stderr), so that a mean's spread can be seen.
  process.stderr.write(`bench:   ${scenario.slice(0, 2)} ${server.split(' (')[0]}: ${Object.entries(values).map(([key, value]) => `${key}=${fmt(value)}`).join(' ')}\n`);
}

/**
 * Before any figure is taken, each server answers WARMUP_ROUNDS bursts of 200 concurrent requests
 * for cold ids (not measured): JIT compilation and the client's connection pool would otherwise
 * decide the first rounds, and the gateway has more code to warm than the ceiling.
 */
async function warmUp(server: Server) {
  for (let round = 0; round < WARMUP_ROUNDS; round++) await Promise.all(coldIds(200).map((id) => post(server.url, ONE, { id })));
}

/** P1's queries per round: one wall time is too noisy a figure on shared cores. */
const P1_QUERIES = 5;

/** P1: one query for 200 cold ids, P1_QUERIES times one after another: wall time (mean) and round trips (worst). */
async function coldList(name: string, server: Server, sim: Upstream) {
  for (let n = 0; n < P1_QUERIES; n++) {
    const ids = coldIds(200);
    await sim.resetCalls();
    const { ms, body } = await post(server.url, MANY, { ids });
    const answered = (body.data as { instagramUsers: unknown[] }).instagramUsers.filter(Boolean).length;
    if (answered !== 200) throw new Error(`${name}: ${answered} of 200 profiles answered`);
    record('P1 · one query, 200 cold ids', name, { wallMs: ms, roundTrips: await sim.roundTrips() });
  }
}

const FLOOR = 'upstream floor (4 Batch API calls sent straight from the load generator)';

/**
 * P1's floor, no server in between: the ⌈200/50⌉ Batch API calls a gateway makes for 200 cold ids,
 * sent at once to the upstream, each answer read to its end. No server can answer P1 faster.
 */
async function upstreamFloor(sim: Upstream) {
  const form = (ids: string[]) =>
    new URLSearchParams({ batch: JSON.stringify(ids.map((id) => ({ method: 'GET', relative_url: `${id}?fields=follower_count,name,username` }))), include_headers: 'true', access_token: TOKEN });
  for (let n = 0; n < P1_QUERIES; n++) {
    const ids = coldIds(200);
    const bodies = [0, 50, 100, 150].map((start) => form(ids.slice(start, start + 50)).toString());
    await sim.resetCalls();
    const started = performance.now();
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await fetch(`${sim.url}/v23.0/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        return { status: response.status, text: await response.text() };
      }),
    );
    const wallMs = performance.now() - started;
    for (const { status, text } of answers) {
      const elements = JSON.parse(text) as Array<{ code?: number }>;
      if (status !== 200 || elements.length !== 50 || elements.some((element) => element.code !== 200)) throw new Error(`upstream floor: unexpected answer ${status}: ${text.slice(0, 300)}`);
    }
    record('P1 · one query, 200 cold ids', FLOOR, { wallMs, roundTrips: await sim.roundTrips() });
  }
}

/** An answer with every profile (a chunked one still holds the whole JSON between its chunk sizes). */
const answered = (body: Buffer) => body.includes('"username"') && !body.includes('"errors"');

/**
 * P2: 200 concurrent clients, one cold id each: 200 open connections, each sends its prepared
 * request once all are open. Returns one of the ids, now warm (recorded unless `measured` is false).
 */
async function coldClients(name: string, server: Server, sim: Upstream, measured = true): Promise<string> {
  const ids = coldIds(200);
  const requests = ids.map((id) => rawPost(server.url, '/graphql', bodyOf(ONE, { id })));
  await sim.resetCalls();
  const result = await load(server.url, requests, { connections: ids.length, seconds: 30, once: true, together: true, bodyOk: answered });
  if (result.errors || result.non2xx || result.requests !== ids.length) throw new Error(`${name}: P2 answered ${result.requests} of ${ids.length}, ${result.errors} errors, ${result.non2xx} failed answers`);
  if (measured) record('P2 · 200 concurrent clients, 1 cold id each', name, { roundTrips: await sim.roundTrips(), p50Ms: result.p50Ms, p99Ms: result.p99Ms });
  return ids[0]!;
}

/** A timed closed-loop phase over pre-built requests; fails on any error or non-2xx answer. */
async function timed(scenario: string, name: string, server: Server, sim: Upstream, requests: Buffer[], once = false) {
  await sim.resetCalls();
  const result = await load(server.url, requests, { connections: CONNECTIONS, seconds: WARM_SECONDS, once });
  if (result.errors || result.non2xx) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  if (result.exhausted) process.stderr.write(`bench: ${name}: the ${requests.length} prepared bodies ran out before ${WARM_SECONDS} s\n`);
  record(scenario, name, { reqPerSec: result.reqPerSec, p99Ms: result.p99Ms, upstreamReads: await sim.roundTrips() });
}

/** P3: the id just answered in the cold burst, the very same body on every request. */
async function hotRepeat(name: string, server: Server, sim: Upstream, id: string) {
  await timed(`P3 · hot repeated query right after the burst, ${CONNECTIONS} connections`, name, server, sim, [rawPost(server.url, '/graphql', bodyOf(ONE, { id }))]);
}

/** P4: one warm id, every body distinct (an unused variable): the profile cache answers, not a whole-response cache. */
async function warmDistinct(name: string, server: Server, sim: Upstream, id: string) {
  const requests = Array.from({ length: BODIES_PER_PHASE }, (_, n) => rawPost(server.url, '/graphql', bodyOf(ONE, { id, nonce: `${name}${nextId++}:${n}` })));
  await timed(`P4 · one warm id, every body distinct, ${CONNECTIONS} connections`, name, server, sim, requests, true);
}

/** Warms WARM_PEOPLE profiles (not measured), in queries of 100 ids. */
async function warmPeople(server: Server, people: string[]) {
  for (let i = 0; i < people.length; i += 100) await post(server.url, MANY, { ids: people.slice(i, i + 100) });
}

/**
 * P5's requests for one round: pages of PAGE random warm people, every body distinct. Built once per
 * round and sent to every server alike (the same pages; `Host` names no port, which none of them
 * reads): the load generator then allocates, and collects, one set per round instead of one per server.
 */
function pagesFor(people: string[]): Buffer[] {
  return Array.from({ length: BODIES_PER_PHASE }, () => {
    const page = new Set<string>();
    while (page.size < PAGE) page.add(people[Math.floor(Math.random() * people.length)]!);
    return rawPost('http://127.0.0.1', '/graphql', bodyOf(MANY, { ids: [...page] }));
  });
}

/** P5: a round's pages (`pagesFor`). */
async function warmPages(name: string, server: Server, sim: Upstream, requests: Buffer[]) {
  await timed(`P5 · warm pages (${PAGE} of ${WARM_PEOPLE} cached people, every body distinct), ${CONNECTIONS} connections`, name, server, sim, requests, true);
}

/** BENCH_SCENARIOS=P1,P3 runs only those scenarios (P2's burst still runs: P3 and P4 ask one of its ids). */
const scenarios = process.env.BENCH_SCENARIOS?.split(',').map((word) => word.trim().toUpperCase()).filter(Boolean);
const wanted = (scenario: string) => !scenarios || scenarios.includes(scenario);

async function redisAnswers(): Promise<boolean> {
  const { createConnection } = await import('node:net');
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(500);
    socket.once('connect', () => socket.end(() => resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

interface Bench {
  name: string;
  start: () => Promise<Server>;
  server?: Server;
  /** P4 applies to servers with a cache (a distinct body defeats only a whole-response cache). */
  cached: boolean;
  /** Measured in P2 only (the late ceiling). */
  p2Only?: boolean;
}

const LATE_CEILING = `late ceiling (bare Apollo, static object, each answer ${UPSTREAM_LATENCY_MS} ms late)`;

async function main() {
  const sim = await startUpstream(UPSTREAM_LATENCY_MS);
  const prefix = `bench${Date.now()}`;
  const withRedis = await redisAnswers();
  if (!withRedis) console.warn(`\n⚠ No Redis answers at ${REDIS_URL}: the Redis rows are skipped (set REDIS_URL or start redis-server).\n`);

  const all: Bench[] = [
    { name: 'ceiling (bare Apollo, static object)', start: () => startProcess('./ceiling.js', {}), cached: false },
    // P2's reference besides the ceiling: the ceiling, each answer one upstream latency late — bare
    // Apollo over an upstream that costs one round trip and nothing else (the ceiling calls nobody).
    { name: LATE_CEILING, start: () => startProcess('./ceiling.js', { CEILING_DELAY_MS: String(UPSTREAM_LATENCY_MS) }), cached: false, p2Only: true },
    { name: 'RESTDataSource (Apollo + @apollo/datasource-rest)', start: () => startProcess('./rest-datasource.js', { GRAPH_URL: sim.url, GRAPH_TOKEN: TOKEN }), cached: false },
    { name: 'baseline (no cache, no coalescing)', start: () => startGateway(sim, { CACHE_ENABLED: 'false', COALESCING_ENABLED: 'false' }), cached: false },
    { name: 'gateway (memory)', start: () => startGateway(sim, { CACHE_KEY_PREFIX: prefix }), cached: true },
  ];
  // BENCH_OTHER_GATEWAY=<another build>/dist/src/index.js adds that build (memory cache) for a before/after in one run.
  const other = process.env.BENCH_OTHER_GATEWAY;
  if (other) all.push({ name: 'other gateway build (memory)', start: () => startGateway(sim, { CACHE_KEY_PREFIX: `${prefix}o` }, pathToFileURL(other).href), cached: true });
  if (withRedis) all.push({ name: 'gateway (Redis)', start: () => startGateway(sim, { CACHE_KEY_PREFIX: `${prefix}r`, REDIS_URL }), cached: true });
  // BENCH_SERVERS=ceiling,gateway runs only the servers whose names start with one of these words.
  const only = process.env.BENCH_SERVERS?.split(',').map((word) => word.trim()).filter(Boolean);
  const benches = all.filter((bench) => !only || only.some((word) => bench.name.startsWith(word)));
  const people = coldIds(WARM_PEOPLE);

  // BENCH_SERVERS=replicas adds the replica rows: 3 gateways on one Redis, with and without coordination.
  const replicaRuns = withRedis && only?.includes('replicas') ? [true, false] : [];

  try {
    for (const bench of benches) {
      process.stderr.write(`bench: starting ${bench.name} …\n`);
      bench.server = await bench.start();
      await warmUp(bench.server);
      await warmPeople(bench.server, people);
    }
    // Servers alternate (A B A B …) so a change in the machine's load touches every server alike.
    for (let round = 1; round <= ROUNDS; round++) {
      const pages = wanted('P5') ? pagesFor(people) : [];
      if (wanted('P1') && benches.length > 0) await upstreamFloor(sim);
      for (const { name, server, cached, p2Only } of benches) {
        if (p2Only) {
          if (wanted('P2')) await coldClients(name, server!, sim);
          continue;
        }
        process.stderr.write(`bench: round ${round}/${ROUNDS} · ${name}\n`);
        if (wanted('P1')) await coldList(name, server!, sim);
        const id = await coldClients(name, server!, sim, wanted('P2'));
        if (wanted('P3')) await hotRepeat(name, server!, sim, id);
        if (cached && wanted('P4')) await warmDistinct(name, server!, sim, id);
        if (wanted('P5')) await warmPages(name, server!, sim, pages);
      }
    }
    const replicaBench = {
      sim,
      rounds: ROUNDS,
      start: (env: Record<string, string>) => startGateway(sim, { REDIS_URL, ...env }),
      post,
      coldIds,
      record,
      hotRepeat: (name: string, server: Server, id: string) => hotRepeat(name, server, sim, id),
    };
    for (const coordination of replicaRuns) await replicaRows(replicaBench, `${prefix}${coordination ? 'c' : 'u'}`, coordination);
  } finally {
    await Promise.all(benches.map((bench) => bench.server?.stop()));
    await sim.close();
  }
  report();
}

/** A scenario's figures for one server: the mean of the rounds (round trips: the worst round). */
function summary(scenario: string, server: string | undefined): Record<string, number> | undefined {
  const rounds = server ? figures.get(scenario)?.get(server) : undefined;
  if (!rounds) return undefined;
  const out: Record<string, number> = {};
  for (const key of Object.keys(rounds[0]!)) {
    const values = rounds.map((round) => round[key]!);
    out[key] = key === 'roundTrips' ? Math.max(...values) : mean(values);
  }
  return out;
}

const fmt = (value: number) => (Number.isInteger(value) || Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1));
const serverOf = (scenario: string, prefix: string) => [...(figures.get(scenario)?.keys() ?? [])].find((server) => server.startsWith(prefix));

function report() {
  console.log(`\nig-profile-gateway benchmark · ${cpus().length} CPU cores (${cpus()[0]?.model ?? 'unknown'}) shared by load generator, simulator and servers`);
  console.log(`simulator latency ${UPSTREAM_LATENCY_MS} ms · Node ${process.version} · NODE_ENV=${BENCH_NODE_ENV} · ${ROUNDS} alternating rounds, ${WARM_SECONDS} s per load phase · figures: mean of the rounds (round trips: worst)`);
  for (const [scenario, byServer] of [...figures].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`\n${scenario}`);
    const anchor = summary(scenario, serverOf(scenario, 'ceiling'));
    const base = summary(scenario, serverOf(scenario, 'baseline'));
    const rest = summary(scenario, serverOf(scenario, 'RESTDataSource'));
    const floor = summary(scenario, serverOf(scenario, 'upstream floor'));
    const lateCeiling = summary(scenario, serverOf(scenario, 'late ceiling'));
    for (const server of byServer.keys()) {
      const own = summary(scenario, server)!;
      const parts = Object.entries(own).map(([key, value]) => `${key}=${fmt(value)}`);
      if (anchor?.reqPerSec && own.reqPerSec !== undefined) parts.push(`= ${(own.reqPerSec / anchor.reqPerSec).toFixed(2)}× ceiling req/s`);
      if (anchor?.p99Ms && own.p99Ms !== undefined && scenario.startsWith('P2')) parts.push(`p99 = ${(own.p99Ms / anchor.p99Ms).toFixed(2)}× ceiling`);
      if (lateCeiling?.p99Ms && own.p99Ms !== undefined && own.roundTrips) parts.push(`${(own.p99Ms / lateCeiling.p99Ms).toFixed(2)}× the late ceiling`);
      if (base?.wallMs && own.wallMs !== undefined) parts.push(`wall = ${(own.wallMs / base.wallMs).toFixed(2)}× baseline`);
      if (rest?.wallMs && own.wallMs !== undefined) parts.push(`wall = ${(own.wallMs / rest.wallMs).toFixed(2)}× RESTDataSource`);
      if (floor?.wallMs && own.wallMs !== undefined && own.roundTrips && server !== FLOOR) parts.push(`+${fmt(own.wallMs - floor.wallMs)} ms over the floor`);
      console.log(`  ${server.padEnd(40)} ${parts.join('  ')}`);
    }
  }
  console.log(`\n${markdownTable()}`);
}

/**
 * The README table: scenario | ceiling | RESTDataSource | gateway | ratio (a Redis pair when measured).
 * Ratios: P1 wall against RESTDataSource and P2 p99 against the ceiling and the late ceiling (lower is
 * better), P3–P5 req/s against the ceiling.
 */
function markdownTable(): string {
  const throughput = (f: Record<string, number>) => `${Math.round(f.reqPerSec!).toLocaleString('en')}, ${fmt(f.upstreamReads!)}`;
  const cell: Record<string, (figure: Record<string, number>) => string> = {
    P1: (f) => `${fmt(f.wallMs!)} ms / ${f.roundTrips}`,
    P2: (f) => `${f.roundTrips}, ${fmt(f.p50Ms!)} / ${fmt(f.p99Ms!)} ms`,
    P3: throughput,
    P4: throughput,
    P5: throughput,
  };
  const titles: Record<string, string> = {
    P1: 'P1 · 200 cold ids, one query: wall / round trips',
    P2: 'P2 · 200 clients × 1 cold id: round trips, p50 / p99',
    P3: 'P3 · hot repeat: req/s, upstream reads',
    P4: 'P4 · one warm id, distinct bodies: req/s, upstream reads',
    P5: 'P5 · warm pages: req/s, upstream reads',
  };
  const ratio = (key: string, own: Record<string, number> | undefined, rest?: Record<string, number>, ceiling?: Record<string, number>, lateCeiling?: Record<string, number>) => {
    if (!own) return '';
    if (key === 'P1' && rest) return `${(own.wallMs! / rest.wallMs!).toFixed(2)}× RESTDataSource wall`;
    if (key === 'P2' && ceiling) return `${(own.p99Ms! / ceiling.p99Ms!).toFixed(2)}× ceiling p99${lateCeiling ? `, ${(own.p99Ms! / lateCeiling.p99Ms!).toFixed(2)}× late ceiling` : ''}`;
    if (ceiling?.reqPerSec) return `${(own.reqPerSec! / ceiling.reqPerSec).toFixed(2)}× ceiling req/s`;
    return '';
  };
  const withRedis = [...figures.values()].some((byServer) => [...byServer.keys()].some((server) => server === 'gateway (Redis)'));
  const head = ['scenario', 'ceiling', 'RESTDataSource', 'gateway, memory', 'ratio', ...(withRedis ? ['gateway, Redis', 'ratio'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const [scenario] of [...figures].sort(([a], [b]) => a.localeCompare(b))) {
    const key = scenario.slice(0, 2);
    if (!titles[key]) continue;
    const [ceiling, rest, memory, redis, lateCeiling] = ['ceiling', 'RESTDataSource', 'gateway (memory)', 'gateway (Redis)', 'late ceiling'].map((prefix) => summary(scenario, serverOf(scenario, prefix)));
    const show = (figure: Record<string, number> | undefined) => (figure ? cell[key]!(figure) : '');
    const row = [titles[key], show(ceiling), show(rest), show(memory), ratio(key, memory, rest, ceiling, lateCeiling)];
    if (withRedis) row.push(show(redis), ratio(key, redis, rest, ceiling, lateCeiling));
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

await main();
