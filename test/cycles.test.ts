import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/check-cycles.mjs', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

// Each run loads TypeScript (a few seconds on a loaded machine): generous, explicit limits.
const RUN_TIMEOUT_MS = 60_000;

/** Runs the cycle check; resolves with its exit code and output (a killed run has a null code). */
function checkCycles(args: string[], cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8', timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** Runs the cycle check over a throwaway project made of `files`. */
function check(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'igpg-cycles-'));
  dirs.push(dir);
  const compilerOptions = { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return checkCycles([join(dir, 'tsconfig.json')]);
}

describe('import cycle check (npm run lint)', { timeout: RUN_TIMEOUT_MS + 10_000 }, () => {
  it('passes an acyclic graph', async () => {
    const run = await check({ 'a.ts': "import { b } from './b.js';\nexport const a = b;\n", 'b.ts': 'export const b = 1;\n' });
    expect(run.stdout).toContain('no import cycles among 2 files');
    expect(run.status).toBe(0);
  });

  it('fails on a cycle, type-only imports included, and names its files', async () => {
    const run = await check({
      'a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'b.ts': "import type { C } from './c.js';\nexport const b: C = 1;\n",
      'c.ts': "import { a } from './a.js';\nexport type C = number;\nexport const c = a;\n",
      'd.ts': "import { a } from './a.js';\nexport const d = a;\n",
    });
    expect(run.stderr).toContain('import cycle: a.ts → b.ts → c.ts → a.ts');
    expect(run.stderr).toContain('1 import cycle(s) found');
    expect(run.status).toBe(1);
  });

  it('the project itself has no cycles', async () => {
    const run = await checkCycles([], fileURLToPath(new URL('..', import.meta.url)));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
