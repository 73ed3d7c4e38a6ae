// The benchmark's upstream: the simulator in a process of its own, as Meta is to a deployed gateway.
// In the load generator's process it answered late whenever the generator was busy (sending a burst
// of 200 requests, parsing answers, collecting prepared bodies), which taxed every server that calls
// it and no server that does not. Run as a child of bench/run.ts (`startUpstream`): it prints
// `{"address": …}` once listening and answers `reset` / `roundTrips` messages over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../src/simulator/index.js';

type Ask = { ask: 'reset' | 'roundTrips'; n: number };
type Told = { n: number; roundTrips?: number; address?: string };

export interface Upstream {
  url: string;
  /** Forgets the calls counted so far. */
  resetCalls(): Promise<void>;
  /** Round trips since the last reset. */
  roundTrips(): Promise<number>;
  close(): Promise<void>;
}

const ASK_TIMEOUT_MS = 10_000;

/** Forks this module as the simulator process, with `latencyMs` per call. */
export async function startUpstream(latencyMs: number): Promise<Upstream> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', UPSTREAM_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (told: Told) => void>();
  child.on('message', (told: Told) => waiting.get(told.n)?.(told));
  let next = 0;
  /** One IPC question; its answer or an error within ASK_TIMEOUT_MS (n = -1: the start-up line). */
  const hear = (n: number, ask?: Ask['ask']) =>
    new Promise<Told>((resolve, reject) => {
      const timer = setTimeout(() => (waiting.delete(n), reject(new Error(`bench upstream did not answer ${ask ?? 'start'} within ${ASK_TIMEOUT_MS} ms`))), ASK_TIMEOUT_MS);
      waiting.set(n, (told) => (clearTimeout(timer), waiting.delete(n), resolve(told)));
      if (ask) child.send({ ask, n } satisfies Ask);
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { address } = await Promise.race([hear(-1), exited.then(() => Promise.reject(new Error('bench upstream exited before listening')))]);
  return {
    url: address!,
    resetCalls: async () => void (await hear(next++, 'reset')),
    roundTrips: async () => (await hear(next++, 'roundTrips')).roundTrips!,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** In the child: the simulator, answering the parent's questions until SIGTERM or the parent goes. */
async function serve(): Promise<void> {
  const sim = await startSimulator({ latencyMs: Number(process.env.UPSTREAM_LATENCY_MS) });
  const send = (told: Told) => process.send!(told);
  process.on('message', ({ ask, n }: Ask) => {
    if (ask === 'reset') sim.resetCalls();
    send({ n, ...(ask === 'roundTrips' ? { roundTrips: sim.roundTrips() } : {}) });
  });
  process.once('disconnect', () => void sim.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void sim.close().then(() => process.exit(0)));
  send({ n: -1, address: sim.url });
}

if (process.send && process.env.UPSTREAM_LATENCY_MS !== undefined) await serve();
