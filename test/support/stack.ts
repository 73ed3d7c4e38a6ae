import { createGateway, type Gateway } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { configSecrets, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';

export const TEST_TOKEN = 'EAAtesttoken-0123456789abcdef';

export interface GraphQLAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
}

export interface Stack {
  url: string;
  sim: Simulator;
  gateway: Gateway;
  /** Every log line the gateway wrote. */
  logs: string[];
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLAnswer<T>>;
  close(): Promise<void>;
}

/**
 * A simulator and a gateway pointed at it, both on ephemeral loopback ports, speaking real HTTP.
 * `env` is the gateway's environment (on top of a token, the simulator URL and quiet retries);
 * `clock` is the gateway's time (an `OffsetClock` lets a test skip past a TTL; the simulator keeps real time).
 */
export async function startStack(options: { env?: Record<string, string>; sim?: SimulatorOptions; clock?: Clock } = {}): Promise<Stack> {
  const sim = await startSimulator(options.sim);
  const config = loadConfig({
    INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN,
    INSTAGRAM_GRAPH_URL: sim.url,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    GRAPH_RETRY_BASE_MS: '5',
    ...options.env,
  });
  const logs: string[] = [];
  const logger = createLogger({
    level: config.log.level,
    secrets: configSecrets(config),
    destination: { write: (line: string) => logs.push(line) },
  });
  const gateway = await createGateway(config, logger, { clock: options.clock });
  const url = await gateway.listen();
  // Startup asked /me for the business id: tests count only what their queries cause.
  sim.resetCalls();
  return {
    url,
    sim,
    gateway,
    logs,
    gql: (query, variables, headers) => postGraphQL(url, query, variables, headers),
    async close() {
      await gateway.close();
      await sim.close();
    },
  };
}

export async function postGraphQL<T>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLAnswer<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLAnswer<T>, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

/** `n` distinct, valid, ordinary IGSIDs (no built-in demo scenario prefix). */
export function igsids(n: number, start = 1): string[] {
  return Array.from({ length: n }, (_, i) => String(1784140000000000 + start + i));
}

export const ALL_FIELDS = 'id name username profilePic followerCount isUserFollowBusiness isBusinessFollowUser isVerifiedUser';
