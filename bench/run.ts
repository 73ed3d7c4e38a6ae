// `npm run bench`: the gateway against the built-in simulator (40 ms upstream latency), side by side
// with two baselines it starts itself — the same gateway with caching and coalescing off, and a bare
// Apollo Server answering from a static object (the ceiling) — printed as a table with ratios
// measured in this one run. Bounded: every load phase has a fixed duration or request count, and
// all traffic stays on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startSimulator, type Simulator } from '../src/simulator/index.js';

const UPSTREAM_LATENCY_MS = 40;
const WARM_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_ROUNDS = 8;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'bench-token';

const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name followerCount } }';
const MANY = 'query Many($ids: [ID!]!) { instagramUsers(ids: $ids) { id username name followerCount } }';

interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Starts `node <script>` and waits for the JSON line carrying its `address`. */
async function startProcess(script: string, env: Record<string, string>): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', ...env },
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

function startGateway(sim: Simulator, env: Record<string, string> = {}): Promise<Server> {
  return startProcess('../src/index.js', {
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

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

interface Row {
  scenario: string;
  server: string;
  figures: Record<string, number>;
}
const rows: Row[] = [];

/**
 * Before any figure is taken, each server answers WARMUP_ROUNDS bursts of 200 concurrent requests
 * for cold ids (not measured): JIT compilation and the client's connection pool would otherwise
 * decide the first rounds, and the gateway has more code to warm than the ceiling.
 */
async function warmUp(server: Server) {
  for (let round = 0; round < WARMUP_ROUNDS; round++) await Promise.all(coldIds(200).map((id) => post(server.url, ONE, { id })));
}

/** (1) One query for 200 cold ids (ROUNDS times, fresh ids each: median wall time, worst round trips). */
async function coldList(name: string, server: Server, sim: Simulator) {
  const walls: number[] = [];
  let worstTrips = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const ids = coldIds(200);
    sim.resetCalls();
    const { ms, body } = await post(server.url, MANY, { ids });
    const answered = (body.data as { instagramUsers: unknown[] }).instagramUsers.filter(Boolean).length;
    if (answered !== 200) throw new Error(`${name}: ${answered} of 200 profiles answered`);
    walls.push(ms);
    worstTrips = Math.max(worstTrips, sim.roundTrips());
  }
  rows.push({ scenario: `1 · one query, 200 cold ids (${ROUNDS} rounds)`, server: name, figures: { wallMs: median(walls), maxRoundTrips: worstTrips } });
}

/**
 * (2) 200 concurrent clients, one cold id each. The arrival spread depends on the machine's load, so
 * the scenario runs ROUNDS times: the worst round-trip count and the median percentiles are kept.
 */
async function coldClients(name: string, server: Server, sim: Simulator) {
  const rounds: Array<{ roundTrips: number; p50Ms: number; p99Ms: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const ids = coldIds(200);
    sim.resetCalls();
    const times = (await Promise.all(ids.map((id) => post(server.url, ONE, { id })))).map((answer) => answer.ms).sort((a, b) => a - b);
    rounds.push({ roundTrips: sim.roundTrips(), p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) });
  }
  rows.push({
    scenario: `2 · 200 concurrent clients, 1 cold id each (${ROUNDS} rounds)`,
    server: name,
    figures: {
      maxRoundTrips: Math.max(...rounds.map((round) => round.roundTrips)),
      p50Ms: median(rounds.map((round) => round.p50Ms)),
      p99Ms: median(rounds.map((round) => round.p99Ms)),
    },
  });
}

/**
 * (3) A warm hot id under 32 connections. `vary` adds a per-request variable the query does not
 * use, so each request is a distinct whole-response cache key and the profile cache answers it;
 * `ids` > 1 cycles through that many ids (with CACHE_MAX_ENTRIES=1 nearly every lookup then reads Redis).
 */
async function warm(name: string, server: Server, sim: Simulator, options: { vary?: boolean; ids?: number } = {}) {
  const ids = coldIds(options.ids ?? 1);
  for (const id of ids) await post(server.url, ONE, { id });
  await new Promise((resolve) => setTimeout(resolve, 50));
  sim.resetCalls();
  let n = 0;
  const result = await autocannon({
    url: `${server.url}/graphql`,
    connections: CONNECTIONS,
    duration: WARM_SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          n++;
          const variables = { id: ids[n % ids.length], ...(options.vary ? { nonce: n } : {}) };
          return { ...request, body: JSON.stringify({ query: ONE, variables }) };
        },
      },
    ],
  });
  if (result.errors || result.non2xx) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  rows.push({
    scenario: `3 · warm hot id, ${CONNECTIONS} connections, ${WARM_SECONDS} s`,
    server: name,
    figures: { reqPerSec: result.requests.average, p99Ms: result.latency.p99, upstreamReads: sim.roundTrips() },
  });
}

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

async function main() {
  const sim = await startSimulator({ latencyMs: UPSTREAM_LATENCY_MS });
  const prefix = `bench${Date.now()}`;
  const withRedis = await redisAnswers();
  if (!withRedis) console.warn(`\n⚠ No Redis answers at ${REDIS_URL}: the Redis rows are skipped (set REDIS_URL or start redis-server).\n`);

  const servers: Array<{ name: string; start: () => Promise<Server>; scenarios: Array<(name: string, server: Server) => Promise<void>> }> = [
    {
      name: 'ceiling (bare Apollo, static object)',
      start: () => startProcess('./ceiling.js', {}),
      scenarios: [(n, s) => coldList(n, s, sim), (n, s) => coldClients(n, s, sim), (n, s) => warm(n, s, sim)],
    },
    {
      name: 'baseline (no cache, no coalescing)',
      start: () => startGateway(sim, { CACHE_ENABLED: 'false', COALESCING_ENABLED: 'false' }),
      scenarios: [(n, s) => coldList(n, s, sim), (n, s) => coldClients(n, s, sim), (n, s) => warm(n, s, sim)],
    },
    {
      name: 'gateway (memory)',
      start: () => startGateway(sim, { CACHE_KEY_PREFIX: prefix }),
      scenarios: [
        (n, s) => coldList(n, s, sim),
        (n, s) => coldClients(n, s, sim),
        (n, s) => warm(n, s, sim),
        (n, s) => warm(`${n}, profile cache only`, s, sim, { vary: true }),
      ],
    },
  ];
  if (withRedis) {
    servers.push(
      {
        name: 'gateway (Redis)',
        start: () => startGateway(sim, { CACHE_KEY_PREFIX: `${prefix}r`, REDIS_URL }),
        scenarios: [(n, s) => coldClients(n, s, sim), (n, s) => warm(n, s, sim), (n, s) => warm(`${n}, profile cache only`, s, sim, { vary: true })],
      },
      {
        name: 'gateway (Redis, 1-entry memory)',
        start: () => startGateway(sim, { CACHE_KEY_PREFIX: `${prefix}r1`, REDIS_URL, CACHE_MAX_ENTRIES: '1' }),
        scenarios: [(n, s) => warm(`${n}, lookups read Redis`, s, sim, { vary: true, ids: 16 })],
      },
    );
  }

  if (withRedis) servers.push(...replicaServers(sim, prefix));

  try {
    // BENCH_SERVERS=ceiling,gateway runs only the servers whose names start with one of these words.
    const only = process.env.BENCH_SERVERS?.split(',').map((word) => word.trim()).filter(Boolean);
    for (const { name, start, scenarios } of servers.filter((server) => !only || only.some((word) => server.name.startsWith(word)))) {
      process.stderr.write(`bench: ${name} …\n`);
      const server = await start();
      try {
        await warmUp(server);
        for (const scenario of scenarios) await scenario(name, server);
      } finally {
        await server.stop();
      }
    }
  } finally {
    await sim.close();
  }
  report();
}

/** N gateways on one Redis and one simulator, as one "server" whose url is the first replica's. */
async function startReplicas(sim: Simulator, n: number, env: Record<string, string>): Promise<Server & { urls: string[] }> {
  const started = await Promise.all(Array.from({ length: n }, () => startGateway(sim, { REDIS_URL, ...env })));
  // The replicas announce themselves on the bus once connected; give the subscriptions a moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { url: started[0]!.url, urls: started.map((server) => server.url), stop: async () => void (await Promise.all(started.map((server) => server.stop()))) };
}

/** (4) One cold id asked on every replica at the same moment: upstream reads (worst of ROUNDS). */
async function oneIdEverywhere(name: string, urls: string[], sim: Simulator) {
  let worst = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const [id] = coldIds(1);
    sim.resetCalls();
    await Promise.all(urls.map((url) => post(url, ONE, { id })));
    worst = Math.max(worst, sim.roundTrips());
  }
  rows.push({ scenario: `4 · one cold id asked on ${urls.length} replicas at once (${ROUNDS} rounds)`, server: name, figures: { maxUpstreamReads: worst } });
}

/** (5) 200 concurrent clients, one cold id each, spread round-robin over the replicas. */
async function coldClientsRoundRobin(name: string, urls: string[], sim: Simulator) {
  const trips: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const ids = coldIds(200);
    sim.resetCalls();
    await Promise.all(ids.map((id, i) => post(urls[i % urls.length]!, ONE, { id })));
    trips.push(sim.roundTrips());
  }
  rows.push({
    scenario: `5 · 200 cold clients round-robin over ${urls.length} replicas (${ROUNDS} rounds)`,
    server: name,
    figures: { medianRoundTrips: median(trips), maxRoundTrips: Math.max(...trips) },
  });
}

function replicaServers(sim: Simulator, prefix: string) {
  const group = (label: string, coordination: boolean, tag: string) => {
    let urls: string[] = [];
    return {
      name: `replicas ×3, Redis, ${label}`,
      start: async () => {
        const started = await startReplicas(sim, 3, { CACHE_KEY_PREFIX: `${prefix}${tag}`, REPLICA_COORDINATION: String(coordination) });
        urls = started.urls;
        return started;
      },
      scenarios: [
        (n: string) => oneIdEverywhere(n, urls, sim),
        (n: string) => coldClientsRoundRobin(n, urls, sim),
        (n: string, s: Server) => warm(n, s, sim),
        (n: string, s: Server) => warm(`${n}, profile cache only`, s, sim, { vary: true }),
      ],
    };
  };
  return [group('coordinated', true, 'c'), group('uncoordinated (REPLICA_COORDINATION=false)', false, 'u')];
}

function report() {
  const ceiling = (scenario: string, figure: string) => rows.find((row) => row.scenario === scenario && row.server.startsWith('ceiling'))?.figures[figure];
  const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
  console.log(`\nig-profile-gateway benchmark · simulator latency ${UPSTREAM_LATENCY_MS} ms · Node ${process.version}\n`);
  let last = '';
  for (const row of rows) {
    if (row.scenario !== last) console.log(`\n${(last = row.scenario)}`);
    const figures = Object.entries(row.figures).map(([key, value]) => `${key}=${fmt(value)}`);
    const rps = ceiling(row.scenario, 'reqPerSec');
    if (row.figures.reqPerSec !== undefined && rps) figures.push(`= ${(row.figures.reqPerSec / rps).toFixed(2)}× ceiling req/s`);
    const p99 = ceiling(row.scenario, 'p99Ms');
    if (row.scenario.startsWith('2') && row.figures.p99Ms !== undefined && p99 !== undefined) figures.push(`p99 − ceiling p99 = ${fmt(row.figures.p99Ms - p99)} ms`);
    console.log(`  ${row.server.padEnd(62)} ${figures.join('  ')}`);
  }
}

await main();
