import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Clock } from '../clock.js';

/** One answer of `/avatars/…`, kept until its CDN URL expires (placeholders: briefly). */
export interface StoredAvatar {
  source: 'instagram' | 'placeholder';
  contentType: string;
  bytes: Buffer;
  etag: string;
  /** Epoch ms: never served after this. */
  expiresAt: number;
}

/** Overhead counted per entry on top of its bytes (key, object, strings), so tiny entries are bounded too. */
const ENTRY_OVERHEAD_BYTES = 256;

export interface AvatarStoreOptions {
  /** AVATAR_CACHE_MAX_BYTES; 0 keeps nothing in memory. */
  maxBytes: number;
  /** AVATAR_MAX_BYTES: a Redis value holding more is refused as corrupt. */
  maxValueBytes: number;
  redisUrl?: string | undefined;
  redisTimeoutMs: number;
  clock: Clock;
  onRedisError: (operation: string) => void;
}

const RedisValue = z.object({
  source: z.enum(['instagram', 'placeholder']),
  contentType: z.string().regex(/^image\/[a-z0-9.+-]{1,40}$/),
  b64: z.string().max(8 * 1024 * 1024 * 4),
  etag: z.string().regex(/^"[A-Za-z0-9_-]{1,64}"$/),
  expiresAt: z.number().int().positive(),
});

/**
 * Picture bytes: a memory LRU bounded by bytes, and Redis behind it when configured (so replicas
 * share the CDN fetch). Entries live only until their `expiresAt`; Redis keys get that TTL too.
 * Redis trouble is a miss, never a failure.
 */
export class AvatarStore {
  private readonly memory: LRUCache<string, StoredAvatar> | undefined;
  private readonly redis: Keyv | undefined;
  private readonly adapter: KeyvRedis<string> | undefined;
  /** The first connection attempt: operations wait for it (at most the Redis timeout) instead of skipping Redis at start-up. */
  private connecting: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AvatarStoreOptions) {
    if (options.maxBytes > 0) {
      this.memory = new LRUCache<string, StoredAvatar>({
        maxSize: options.maxBytes,
        sizeCalculation: (value) => value.bytes.length + ENTRY_OVERHEAD_BYTES,
        perf: { now: () => options.clock.now() },
      });
    }
    if (options.redisUrl) {
      this.adapter = new KeyvRedis<string>(
        { url: options.redisUrl, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000) } },
        { throwOnConnectError: false, throwOnErrors: true },
      );
      this.redis = new Keyv({ store: this.adapter, useKeyPrefix: false, throwOnErrors: true });
      this.redis.on('error', () => undefined);
      this.adapter.client.on('error', () => undefined);
      this.connecting = this.adapter.getClient().catch(() => undefined);
    }
  }

  /** Bytes held in memory now (for the metrics gauge). */
  memoryBytes(): number {
    return this.memory?.calculatedSize ?? 0;
  }

  async get(key: string): Promise<StoredAvatar | undefined> {
    const now = this.options.clock.now();
    const local = this.memory?.get(key);
    if (local && local.expiresAt > now) return local;
    if (!this.redis) return undefined;
    const raw = await this.guard('get', () => this.redis!.get<string>(key));
    if (typeof raw !== 'string') return undefined;
    const parsed = safeJson(raw);
    const value = RedisValue.safeParse(parsed);
    if (!value.success || value.data.expiresAt <= now) return undefined;
    const bytes = Buffer.from(value.data.b64, 'base64');
    if (bytes.length === 0 || bytes.length > this.options.maxValueBytes) return undefined;
    const avatar: StoredAvatar = { source: value.data.source, contentType: value.data.contentType, bytes, etag: value.data.etag, expiresAt: value.data.expiresAt };
    this.remember(key, avatar);
    return avatar;
  }

  async set(key: string, avatar: StoredAvatar): Promise<void> {
    const ttl = avatar.expiresAt - this.options.clock.now();
    if (ttl <= 0) return;
    this.remember(key, avatar);
    if (!this.redis) return;
    const { bytes, ...rest } = avatar;
    await this.guard('set', () => this.redis!.set(key, JSON.stringify({ ...rest, b64: bytes.toString('base64') }), ttl));
  }

  async close(): Promise<void> {
    this.memory?.clear();
    const client = this.adapter?.client as { destroy?: () => void } | undefined;
    try {
      client?.destroy?.();
    } catch {
      // already closed
    }
  }

  private remember(key: string, avatar: StoredAvatar): void {
    const ttl = avatar.expiresAt - this.options.clock.now();
    if (ttl > 0) this.memory?.set(key, avatar, { ttl });
  }

  private async guard<T>(operation: string, run: () => Promise<T>): Promise<T | undefined> {
    const client = this.adapter?.client as { isReady?: boolean } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redis timeout')), this.options.redisTimeoutMs);
    });
    try {
      if (!client?.isReady) await Promise.race([this.connecting, timeout]);
      if (!client?.isReady) return undefined;
      return await Promise.race([
        run(),
        timeout,
      ]);
    } catch {
      this.options.onRedisError(operation);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
