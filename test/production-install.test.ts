import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway } from './support/process.js';
import { postGraphQL } from './support/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSTALL_TIMEOUT_MS = 150_000;
/** What a deployment holds: the lockfile pair and the package's `files`. */
const { files } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
const dir = mkdtempSync(join(tmpdir(), 'igpg-prod-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a command in `dir`; resolves with its exit code and output, killing it after `timeoutMs`. */
function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('production install (README: Production install)', () => {
  it('npm ci --omit=dev --ignore-scripts beside the built output starts, answers GraphQL and serves the playground', async () => {
    expect(existsSync(join(ROOT, 'dist/playground-assets')), 'dist/ is built (npm run build)').toBe(true);
    for (const entry of ['package.json', 'package-lock.json', ...files]) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });

    // The local npm cache holds every package the lockfile names, so this needs no network.
    const install = await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], INSTALL_TIMEOUT_MS);
    expect(install.code, install.output).toBe(0);
    for (const devOnly of ['react', 'react-dom', 'graphiql', 'typescript']) expect(existsSync(join(dir, 'node_modules', devOnly)), devOnly).toBe(false);

    const gateway = spawnGateway({ PLAYGROUND: 'true', LOG_LEVEL: 'info' }, join(dir, 'dist/src/index.js'));
    try {
      const url = await gateway.ready;
      const answer = await postGraphQL<{ instagramUser: { id: string } }>(url, '{ instagramUser(id: "1784140000000001") { id } }');
      expect(answer.data?.instagramUser.id, JSON.stringify(answer)).toBe('1784140000000001');
      const page = await fetch(`${url}/playground`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      const sources = [...(await page.text()).matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
      expect(sources.length).toBeGreaterThanOrEqual(6);
      for (const source of sources) expect((await fetch(`${url}${source}`)).status, source).toBe(200);
    } finally {
      await gateway.stop();
    }
  }, INSTALL_TIMEOUT_MS + 30_000);
});
