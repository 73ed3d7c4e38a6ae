import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Starts the built gateway (`dist/src/index.js`) in demo-free mode against `simUrl` on a free
 * loopback port, and waits for the start-up line that carries its address.
 */
export async function spawnBenchGateway(simUrl: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('../src/index.js', import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: process.env.BENCH_NODE_ENV ?? 'production', INSTAGRAM_ACCESS_TOKEN: 'bench-token', INSTAGRAM_GRAPH_URL: simUrl, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const address = /"address":"([^"]+)"/.exec(line)?.[1];
      if (address) resolve(address.replace('0.0.0.0', '127.0.0.1'));
    });
  });
  return { child, url };
}
