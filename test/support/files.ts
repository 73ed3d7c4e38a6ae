import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'igpg-test-'));
// The files hold (fake) tokens and keys: leave nothing behind.
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `content` (JSON-encoded unless a string) to a fresh temp file and returns its path. */
export function tempJson(content: unknown): string {
  const path = join(dir, `file-${process.pid}-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
