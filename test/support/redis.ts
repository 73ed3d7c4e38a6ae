import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { waitFor } from './wait.js';

/** Shared Redis for tests that only need one (CI makes sure it answers here). */
export const SHARED_REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

export function ping(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export const redisServerInstalled = spawnSync('redis-server', ['--version']).status === 0;

/**
 * Whether Redis tests can run. In CI (REQUIRE_REDIS=1) a missing Redis is a failure, never a
 * skip; on a laptop without Redis the tests skip with a loud notice.
 */
export async function redisForTests(): Promise<boolean> {
  const ok = redisServerInstalled && (await ping(SHARED_REDIS_URL));
  if (ok) return true;
  const why = `Redis tests need redis-server installed and Redis answering at ${SHARED_REDIS_URL}`;
  if (process.env.REQUIRE_REDIS === '1') throw new Error(`${why} (REQUIRE_REDIS=1)`);
  console.warn(`\n!!! SKIPPING REDIS TESTS: ${why}. Set REQUIRE_REDIS=1 to make this a failure. !!!\n`);
  return false;
}

/** A throwaway redis-server on its own port, which a test may stop and start again. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(() => ping(this.url), { interval: 50, what: `redis-server on port ${this.port} to answer` });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
