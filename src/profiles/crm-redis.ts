import { createClient } from '@keyv/redis';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** After a failed or slow command, Redis is skipped this long instead of slowing every call. */
const SUSPEND_MS = 1000;

/** One raw Redis command (`['ZADD', key, …]`); the answer is unknown until a zod schema reads it. */
export type RedisCommand = (args: string[]) => Promise<unknown>;

/**
 * The Redis connection behind contacts and commenters: sorted sets and scripts, which the Keyv
 * cache store does not expose. Its own client from the same `REDIS_URL` (node-redis, re-exported by
 * @keyv/redis) keeps these lists independent of the profile cache's internals; one connection is
 * shared by every account. Every command is bounded by `REDIS_TIMEOUT_MS`; a failure or timeout
 * answers `undefined` (callers fall back to memory), is counted, and suspends Redis for a second.
 */
export class CrmRedis {
  private readonly client;
  private suspendedUntil = 0;

  constructor(
    url: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000) },
    });
    // node-redis emits errors while reconnecting; unhandled they would crash the process.
    this.client.on('error', () => undefined);
    void this.client.connect().catch(() => this.logger.warn('Redis for contacts unreachable: contacts are kept in memory until it answers'));
  }

  /** Runs one command within the timeout; `undefined` when Redis is unavailable, failed or slow. */
  async run(operation: string, args: string[]): Promise<unknown> {
    if (!this.client.isReady || Date.now() < this.suspendedUntil) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.client.sendCommand(args),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis timeout')), this.timeoutMs);
        }),
      ]);
    } catch {
      this.metrics.cacheErrors.inc({ layer: 'redis', operation });
      this.suspendedUntil = Date.now() + SUSPEND_MS;
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    try {
      this.client.destroy();
    } catch {
      // already closed
    }
  }
}
