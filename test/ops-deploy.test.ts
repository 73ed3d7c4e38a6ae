import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/simulator/index.js';
import { postGraphQL, TEST_TOKEN } from './support/stack.js';
import { freePort } from './support/process.js';

const ROOT = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'igpg-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The runtime stage of the Dockerfile: its COPY sources, RUN commands, HEALTHCHECK and CMD (exec form). */
function runtimeStage() {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stage = text.slice(text.indexOf('AS runtime'));
  const lines = stage.split('\n');
  const execForm = (line: string) => JSON.parse(line.slice(line.indexOf('['))) as string[];
  return {
    copies: lines.filter((l) => /^COPY (?!--from)/.test(l)).flatMap((l) => l.split(/\s+/).slice(1, -1)),
    runs: lines.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4)),
    healthcheck: execForm(lines.find((l) => l.startsWith('HEALTHCHECK '))!),
    cmd: execForm(lines.find((l) => l.startsWith('CMD '))!),
    user: lines.find((l) => l.startsWith('USER '))?.slice(5),
  };
}

describe('the Dockerfile runtime stage, run as commands (image registries are out of reach here)', () => {
  it('production install + start serve queries; the HEALTHCHECK command passes', { timeout: 300_000 }, async () => {
    const stage = runtimeStage();
    expect(stage.user).toBe('node');
    for (const source of stage.copies) cpSync(join(ROOT, source), join(dir, source), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    // The RUN lines end with `npm cache clean --force`: run them on a hard-linked copy of the machine's
    // npm cache (offline: no test reaches a registry), so the real cache is left whole.
    const cache = join(dir, '.npm-cache');
    const machineCache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
    mkdirSync(cache);
    execFileSync('cp', ['-al', join(machineCache, '_cacache'), join(cache, '_cacache')]);
    const npmEnv = { ...process.env, npm_config_cache: cache, npm_config_offline: 'true' };
    for (const run of stage.runs) execFileSync('sh', ['-c', run], { cwd: dir, env: npmEnv, stdio: 'ignore', timeout: 240_000 });
    // Only production dependencies: no dev tool reached the runtime install.
    expect(() => execFileSync('node', ['-e', "import('vitest')"], { cwd: dir, stdio: 'ignore' })).toThrow();

    const sim = await startSimulator();
    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), INSTAGRAM_ACCESS_TOKEN: TEST_TOKEN, INSTAGRAM_GRAPH_URL: sim.url };
    const [command, ...args] = stage.cmd;
    const child = spawn(command === 'node' ? process.execPath : command!, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('"address":"http://')) resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const [hc, ...hcArgs] = stage.healthcheck;
      expect(() => execFileSync(hc === 'node' ? process.execPath : hc!, hcArgs, { env, stdio: 'ignore', timeout: 10_000 })).not.toThrow();
      const answer = await postGraphQL<{ instagramUser: { id: string } }>(`http://127.0.0.1:${port}`, '{ instagramUser(id: "1784140000000001") { id } }');
      expect(answer.data?.instagramUser.id).toBe('1784140000000001');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      await sim.close();
    }
  });
});
