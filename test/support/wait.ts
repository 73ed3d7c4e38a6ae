export interface WaitOptions {
  /** Give up after this long (default 10 s: generous, since suites also run on loaded machines). */
  timeout?: number;
  /** Pause between checks (default 20 ms). */
  interval?: number;
  /** What is awaited, for the timeout's message. */
  what?: string;
}

/**
 * Polls `condition` until it holds, for end-to-end tests waiting on background work (a prefetch, a
 * reconnect). Rejects once `timeout` has passed; an exception from `condition` rejects at once.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeout = 10_000, interval = 20, what = 'condition' } = options;
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
