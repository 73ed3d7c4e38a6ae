#!/usr/bin/env node
// `npm run test:stress [-- vitest args]`: runs the suite STRESS_RUNS times in a row (default 3) while
// STRESS_LOOPS busy loops (default 2, one per core here) keep the CPUs busy; stops at the first
// failing run. The loops are child processes that always stop: killed when this script exits for any
// reason, and each also exits by itself once orphaned (its parent id changes).
import { spawn } from 'node:child_process';

const runs = Number(process.env.STRESS_RUNS ?? 3);
const loopCount = Number(process.env.STRESS_LOOPS ?? 2);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(loopCount) || loopCount < 0) {
  console.error('STRESS_RUNS must be a positive integer and STRESS_LOOPS a non-negative integer');
  process.exit(2);
}

const BUSY = 'const parent = process.ppid; for (;;) { for (let i = 0; i < 1e7; i++); if (process.ppid !== parent) process.exit(0); }';
const loops = Array.from({ length: loopCount }, () => spawn(process.execPath, ['-e', BUSY], { stdio: 'ignore' }));
const stopLoops = () => loops.forEach((loop) => loop.exitCode === null && loop.signalCode === null && loop.kill('SIGKILL'));
process.on('exit', stopLoops);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(130));

function vitest() {
  return new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
    child.once('error', () => resolve(1));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

console.log(`stress: ${loopCount} busy loops running; the suite runs ${runs} times`);
let passed = 0;
for (let run = 1; run <= runs; run++) {
  const started = Date.now();
  const code = await vitest();
  console.log(`stress: run ${run}/${runs} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (code !== 0) break;
  passed++;
}
console.log(`stress: ${passed} of ${runs} runs passed in a row under load`);
process.exit(passed === runs ? 0 : 1);
