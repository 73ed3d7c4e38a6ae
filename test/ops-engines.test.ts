import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/** semver is npm's own range logic (installed by many dependencies); only these two calls are used. */
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; allowScripts?: Record<string, boolean> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string; engines?: unknown; hasInstallScript?: boolean }> };
const readme = read('README.md');

/** Package names (last `node_modules/` segment of the lock path) with what the lock says of them. */
const packages = Object.entries(lock.packages)
  .filter(([path]) => path.includes('node_modules/'))
  .map(([path, meta]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), ...meta }));

/** The lowest version of each Node line `engines` admits: ^20.19 || ^22.12 || >=24 → 20.19.0, 22.12.0, 24.0.0. */
const floors = pkg.engines.node.split('||').map((range) => semver.minVersion(range.trim())!.version);

/** First-cell package names of the EBADENGINE table in README's "Node versions" (`@scope/*` covers a scope). */
function explained(): string[] {
  const section = readme.split('\n### Node versions\n')[1]?.split('\n### ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split(' | ')[0]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!));
}
const covers = (entry: string, name: string) => entry === name || (entry.endsWith('/*') && name.startsWith(entry.slice(0, -1)));

describe('Node versions: every EBADENGINE warning is resolved or explained in README', () => {
  it('each locked package whose engines.node excludes a Node version we admit is in the README table, and the table lists no other', () => {
    expect(floors).toEqual(['20.19.0', '22.12.0', '24.0.0']);
    const excluding = new Set(
      packages.filter((p) => typeof p.engines === 'object' && p.engines !== null && typeof (p.engines as { node?: unknown }).node === 'string')
        .filter((p) => floors.some((floor) => !semver.satisfies(floor, (p.engines as { node: string }).node)))
        .map((p) => p.name),
    );
    const listed = explained();
    expect([...excluding].filter((name) => !listed.some((entry) => covers(entry, name))), 'not explained in README').toEqual([]);
    expect(listed.filter((entry) => ![...excluding].some((name) => covers(entry, name))), 'explained but no longer in the lock').toEqual([]);
  });

  it('cookie@2 (Node >= 22 only) is kept out by the light-my-request override', () => {
    const cookies = packages.filter((p) => p.name === 'cookie').map((p) => p.version);
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.every((version) => version!.startsWith('1.'))).toBe(true);
  });

  it('npm ci runs no dependency install script without a decision in allowScripts', () => {
    const withScripts = [...new Set(packages.filter((p) => p.hasInstallScript).map((p) => p.name))];
    expect(withScripts.length).toBeGreaterThan(0);
    expect(withScripts.filter((name) => typeof pkg.allowScripts?.[name] !== 'boolean')).toEqual([]);
  });
});
