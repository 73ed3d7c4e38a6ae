import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { errorCode, redisAddress } from '../startup-errors.js';

/**
 * Where cache entries live: a bounded in-memory LRU (always), and Redis behind it when
 * `REDIS_URL` is set. Both go through Keyv. Redis trouble never fails a lookup: a Redis operation
 * that errors or outlasts its timeout is counted, logged once per outage, and treated as a miss.
 */
export interface CacheStore {
  get<T>(key: string): Promise<{ value: T; layer: 'memory' | 'redis' } | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** Keeps a copy of a Redis hit in memory, so the next lookup stays local. */
  setMemoryOnly(key: string, value: unknown, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** `ok`, or `degraded` while Redis is unreachable (memory still serves). */
  state(): { layer: 'memory' | 'redis'; status: 'ok' | 'degraded' };
  close(): Promise<void>;
}

export interface CacheStoreOptions {
  maxEntries: number;
  redisUrl?: string | undefined;
  redisTimeoutMs: number;
  logger: Logger;
  metrics: Metrics;
}

export function createCacheStore(options: CacheStoreOptions): CacheStore {
  return new LayeredStore(options);
}

const REDIS_SUSPEND_MS = 1000;

/** A least-recently-used map in the shape Keyv expects of a store (lru-cache takes TTL as an option object). */
function boundedMap(max: number) {
  const lru = new LRUCache<string, object>({ max });
  return {
    get: (key: string) => lru.get(key),
    set: (key: string, value: object, ttl?: number) => {
      lru.set(key, value, ttl ? { ttl } : undefined);
      return true;
    },
    delete: (key: string) => lru.delete(key),
    clear: () => lru.clear(),
    has: (key: string) => lru.has(key),
  };
}

class LayeredStore implements CacheStore {
  private readonly memory: Keyv;
  private readonly redis: Keyv | undefined;
  private readonly redisAdapter: KeyvRedis<object> | undefined;
  private redisHealthy = true;
  /** After a failed or slow operation, Redis is skipped for a moment instead of slowing every lookup. */
  private redisSuspendedUntil = 0;

  constructor(private readonly options: CacheStoreOptions) {
    // Entries are stored as objects in memory: no serialisation on the hot path.
    this.memory = new Keyv({ store: boundedMap(options.maxEntries), serialize: undefined, deserialize: undefined });
    if (options.redisUrl) {
      this.redisAdapter = new KeyvRedis(
        {
          url: options.redisUrl,
          // Fail fast while disconnected instead of queueing commands behind a dead socket.
          disableOfflineQueue: true,
          socket: { connectTimeout: 2000, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000) },
        },
        { throwOnConnectError: false, throwOnErrors: true },
      );
      this.redis = new Keyv({ store: this.redisAdapter, useKeyPrefix: false, throwOnErrors: true });
      this.redis.on('error', () => this.markRedis(false));
      this.redisAdapter.client.on('ready', () => {
        this.redisSuspendedUntil = 0;
        this.markRedis(true);
      });
      this.redisAdapter.client.on('error', (error: unknown) => this.markRedis(false, error));
      // Connect in the background: the gateway serves from memory and upstream until Redis answers.
      void this.redisAdapter.getClient().catch(() => this.markRedis(false));
    }
  }

  async get<T>(key: string): Promise<{ value: T; layer: 'memory' | 'redis' } | undefined> {
    const local = (await this.memory.get(key)) as T | undefined;
    if (local !== undefined) return { value: local, layer: 'memory' };
    if (!this.redis || !this.redisReady()) return undefined;
    const remote = await this.guard('get', () => this.redis!.get(key));
    if (remote === undefined || remote === null) return undefined;
    return { value: remote as T, layer: 'redis' };
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.memory.set(key, value, ttlMs);
    if (this.redis && this.redisReady()) await this.guard('set', () => this.redis!.set(key, value, ttlMs));
  }

  async setMemoryOnly(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.memory.set(key, value, ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.memory.delete(key);
    if (this.redis && this.redisReady()) await this.guard('delete', () => this.redis!.delete(key));
  }

  state(): { layer: 'memory' | 'redis'; status: 'ok' | 'degraded' } {
    if (!this.redis) return { layer: 'memory', status: 'ok' };
    return { layer: 'redis', status: this.redisReady() ? 'ok' : 'degraded' };
  }

  async close(): Promise<void> {
    await this.memory.disconnect().catch(() => undefined);
    if (this.redisAdapter) {
      // destroy(), not quit(): never wait on a dead connection during shutdown.
      const client = this.redisAdapter.client as { destroy?: () => void; isOpen?: boolean };
      try {
        client.destroy?.();
      } catch {
        // already closed
      }
    }
  }

  private redisReady(): boolean {
    const client = this.redisAdapter?.client as { isReady?: boolean } | undefined;
    return Boolean(client?.isReady) && Date.now() >= this.redisSuspendedUntil;
  }

  private markRedis(healthy: boolean, error?: unknown): void {
    if (healthy === this.redisHealthy) return;
    this.redisHealthy = healthy;
    const where = `REDIS_URL ${redisAddress(this.options.redisUrl ?? '')}`;
    if (healthy) this.options.logger.info(`Redis cache reachable again (${where})`);
    else this.options.logger.warn({ reason: errorCode(error) }, `Redis cache unreachable (${where}): serving from memory and upstream until it returns`);
  }

  private async guard<T>(operation: string, run: () => Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        run(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis timeout')), this.options.redisTimeoutMs);
        }),
      ]);
      this.markRedis(true);
      return result;
    } catch {
      this.options.metrics.cacheErrors.inc({ layer: 'redis', operation });
      this.redisSuspendedUntil = Date.now() + REDIS_SUSPEND_MS;
      this.markRedis(false);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
