// `node dist/bench/memory.js`: the gateway's resident memory while it answers MEMORY_QUERIES (default
// 150,000) distinct query documents (distinct operation names over one warm id), each once, under
// 32 connections; RSS is read from /metrics before, every 25,000 queries, and at the end. Loopback only.
import { startSimulator } from '../src/simulator/index.js';
import { load, rawPost } from './loader.js';
import { spawnBenchGateway } from './spawn.js';

const QUERIES = Number(process.env.MEMORY_QUERIES ?? 150_000);
const STEP = 25_000;
const ID = '1784159997000001';

/** RSS and the V8 heap in use, in MiB, as /metrics reports them. */
async function memory(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const mib = (name: string) => (Number(new RegExp(`^igpg_${name} (\\d+)`, 'm').exec(text)?.[1]) / 2 ** 20).toFixed(0);
  return `RSS ${mib('process_resident_memory_bytes')} MiB, heap used ${mib('nodejs_heap_size_used_bytes')} MiB`;
}

const sim = await startSimulator({ latencyMs: 40 });
const { child, url } = await spawnBenchGateway(sim.url, process.env.MEMORY_ENV ? (JSON.parse(process.env.MEMORY_ENV) as Record<string, string>) : {});
try {
  const query = (n: number) => `query Q${n}($id: ID!) { instagramUser(id: $id) { id username name followerCount } }`;
  await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: query(0), variables: { id: ID } }) });
  console.log(`start: ${await memory(url)}`);
  for (let done = 0; done < QUERIES; done += STEP) {
    const bodies = Array.from({ length: Math.min(STEP, QUERIES - done) }, (_, i) => rawPost(url, '/graphql', JSON.stringify({ query: query(done + i + 1), variables: { id: ID } })));
    const result = await load(url, bodies, { connections: 32, seconds: 600, once: true });
    if (result.errors || result.non2xx) throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx`);
    console.log(`after ${done + bodies.length} distinct queries: ${await memory(url)} (${result.reqPerSec.toFixed(0)} req/s)`);
  }
} finally {
  child.kill('SIGTERM');
  await sim.close();
}
