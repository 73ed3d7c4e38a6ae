import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from './process.js';
import { postGraphQL, TEST_TOKEN, type GraphQLAnswer } from './stack.js';
import { waitFor } from './wait.js';
import { postSigned } from './webhook.js';

export const REPLICA_APP_SECRET = 'replicas-test-app-secret-9f2e';
const BUS_CONNECTED = 'replica bus connected';

export interface Replicas {
  sim: Simulator;
  urls: string[];
  processes: GatewayProcess[];
  gql<T = Record<string, unknown>>(replica: number, query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer<T>>;
  /** Waits until replica `i` has (re)joined the bus `times` times (log lines). */
  busConnected(replica: number, times?: number): Promise<void>;
  close(): Promise<void>;
}

/** `n` built gateways (real processes) sharing one simulator and `env` (REDIS_URL, CACHE_KEY_PREFIX…). */
export async function startReplicas(n: number, env: Record<string, string>, sim: SimulatorOptions = {}): Promise<Replicas> {
  const simulator = await startSimulator(sim);
  const processes = Array.from({ length: n }, () =>
    spawnGateway({
      INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN,
      INSTAGRAM_GRAPH_URL: simulator.url,
      INSTAGRAM_APP_SECRET: REPLICA_APP_SECRET,
      LOG_LEVEL: 'info',
      GRAPH_RETRY_BASE_MS: '5',
      ...env,
    }),
  );
  const close = async () => {
    await Promise.all(processes.map((process) => process.stop()));
    await simulator.close();
  };
  try {
    const urls = await Promise.all(processes.map((process) => process.ready));
    const busConnected = (replica: number, times = 1) =>
      waitFor(() => processes[replica]!.output().split(BUS_CONNECTED).length - 1 >= times, { timeout: 15_000, what: `replica ${replica} on the bus` });
    if (env.REDIS_URL) await Promise.all(processes.map((_, i) => busConnected(i)));
    simulator.resetCalls();
    return { sim: simulator, urls, processes, gql: (i, query, variables) => postGraphQL(urls[i]!, query, variables), busConnected, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Posts a signed messaging delivery (one message per `mids` entry, all from `sender`). */
export async function deliver(url: string, business: string, sender: string, mids: readonly string[], timestamp = Date.now()): Promise<number> {
  const body = JSON.stringify({
    object: 'instagram',
    entry: [
      {
        id: business,
        time: timestamp,
        messaging: mids.map((mid) => ({ sender: { id: sender }, recipient: { id: business }, timestamp, message: { mid, text: 'hi' } })),
      },
    ],
  });
  return postSigned(url, body, REPLICA_APP_SECRET);
}
