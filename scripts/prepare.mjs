#!/usr/bin/env node
// `prepare` (after `npm ci`/`npm install`): builds when the dev tools are installed. A production
// install (`npm ci --omit=dev`) has no TypeScript and ships a built dist/, so it only says so.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  console.log('prepare: dev dependencies not installed (production install), not building; dist/ must be present');
  process.exit(0);
}
const npm = process.env.npm_execpath;
const run = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
