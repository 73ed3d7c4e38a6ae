import type { GatewayProcess } from './process.js';

/** Resolves with the first output line matching `pattern` (written already or later); rejects if the process exits first. */
export function waitForLine(gateway: GatewayProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = gateway.output().split('\n').find((l) => pattern.test(l));
      if (line === undefined) return false;
      gateway.child.stdout!.off('data', check);
      gateway.child.stderr!.off('data', check);
      resolve(line);
      return true;
    };
    if (check()) return;
    gateway.child.stdout!.on('data', check);
    gateway.child.stderr!.on('data', check);
    void gateway.exited.then(() => check() || reject(new Error(`exited without ${pattern}:\n${gateway.output()}`)));
  });
}
