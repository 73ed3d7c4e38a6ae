import { createLogger, type Logger } from '../../src/logger.js';

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** Resolves with the first line (already written or still to come) whose msg matches. */
  next(msg: RegExp, after?: number): Promise<Record<string, unknown>>;
}

/** A pino logger writing parsed lines to memory, with a way to wait for one (no sleeps). */
export function captureLog(secrets: string[] = []): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: RegExp; from: number; resolve: (line: Record<string, unknown>) => void }> = [];
  const logger = createLogger({
    level: 'debug',
    secrets,
    destination: {
      write(text: string) {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (lines.length - 1 >= waiter.from && waiter.msg.test(String(line.msg))) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      },
    },
  });
  return {
    logger,
    lines,
    next(msg, after = 0) {
      const found = lines.slice(after).find((line) => msg.test(String(line.msg)));
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ msg, from: after, resolve }));
    },
  };
}
