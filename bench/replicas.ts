// The replica rows of `BENCH_SERVERS=replicas npm run bench` (called from bench/run.ts): 3 gateways
// on one Redis and one simulator, with and without coordination. Each replica set is warmed up like
// the single servers (bursts of cold ids, not measured) before any figure is taken.
import type { Upstream } from './upstream.js';

export interface ReplicaServer {
  url: string;
  stop(): Promise<void>;
}

export interface ReplicaBench {
  sim: Upstream;
  rounds: number;
  /** Starts one gateway on the simulator with Redis and `env`. */
  start(env: Record<string, string>): Promise<ReplicaServer>;
  post(url: string, query: string, variables: Record<string, unknown>): Promise<unknown>;
  coldIds(n: number): string[];
  record(scenario: string, server: string, values: Record<string, number>): void;
  /** P3 on the replica set (a warm hit on the first replica). */
  hotRepeat(name: string, server: ReplicaServer, id: string): Promise<void>;
}

const ONE = 'query One($id: ID!) { instagramUser(id: $id) { id username name followerCount } }';
const REPLICAS = 3;
const WARMUP_ROUNDS = 8;

/** R1, R2 and a warm hit (P3) on 3 replicas sharing one Redis and one simulator. */
export async function replicaRows(bench: ReplicaBench, prefix: string, coordination: boolean): Promise<void> {
  const name = `replicas ×3, Redis, ${coordination ? 'coordinated' : 'uncoordinated (REPLICA_COORDINATION=false)'}`;
  process.stderr.write(`bench: starting ${name} …\n`);
  const started = await Promise.all(Array.from({ length: REPLICAS }, () => bench.start({ CACHE_KEY_PREFIX: prefix, REPLICA_COORDINATION: String(coordination) })));
  const urls = started.map((server) => server.url);
  const burst = (ids: string[]) => Promise.all(ids.map((id, i) => bench.post(urls[i % urls.length]!, ONE, { id })));
  const trips: number[] = [];
  try {
    // The replicas join the bus once connected; the warm-up bursts leave them time to.
    for (let round = 0; round < WARMUP_ROUNDS; round++) await burst(bench.coldIds(200));
    for (let round = 1; round <= bench.rounds; round++) {
      const [id] = bench.coldIds(1);
      await bench.sim.resetCalls();
      await Promise.all(urls.map((url) => bench.post(url, ONE, { id })));
      bench.record('R1 · one cold id asked on 3 replicas at once (upstream reads)', name, { roundTrips: await bench.sim.roundTrips() });
      await bench.sim.resetCalls();
      await burst(bench.coldIds(200));
      trips.push(await bench.sim.roundTrips());
      bench.record('R2 · 200 cold clients round-robin over 3 replicas (target ≤ 8 round trips)', name, { roundTrips: await bench.sim.roundTrips() });
      await bench.hotRepeat(name, { url: urls[0]!, stop: async () => undefined }, id!);
    }
    const sorted = [...trips].sort((a, b) => a - b);
    process.stderr.write(`bench: R2 ${name}: round trips per round ${trips.join(', ')} (median ${sorted[Math.floor((sorted.length - 1) / 2)]}, worst ${sorted.at(-1)})\n`);
  } finally {
    await Promise.all(started.map((server) => server.stop()));
  }
}
