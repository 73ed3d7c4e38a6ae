import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { CacheStore } from '../profiles/cache-store.js';

/** One answer of `/avatars/…`, kept until its CDN URL expires (placeholders: briefly). */
export interface StoredAvatar {
  source: 'instagram' | 'placeholder';
  contentType: string;
  bytes: Buffer;
  etag: string;
  /** Epoch ms: never served after this. */
  expiresAt: number;
  /** Digest of the `profile_pic` URL the bytes came from (pictures only): refresh-ahead re-fetches when it changes. */
  picture?: string;
}

/** Overhead counted per entry on top of its bytes (key, object, LRU slots; measured about 800 bytes), so the bound holds for tiny entries too. */
const ENTRY_OVERHEAD_BYTES = 1024;

export interface AvatarStoreOptions {
  /** AVATAR_CACHE_MAX_BYTES; 0 keeps nothing in memory. */
  maxBytes: number;
  /** AVATAR_MAX_BYTES: a Redis value holding more is refused as corrupt. */
  maxValueBytes: number;
  /** The gateway's cache store: its Redis layer (when configured) shares the bytes between replicas. */
  shared: CacheStore | undefined;
  clock: Clock;
}

const RedisValue = z.object({
  source: z.enum(['instagram', 'placeholder']),
  contentType: z.string().regex(/^image\/[a-z0-9.+-]{1,40}$/),
  b64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  etag: z.string().regex(/^"[A-Za-z0-9_-]{1,64}"$/),
  expiresAt: z.number().int().positive(),
  picture: z.string().regex(/^[A-Za-z0-9_-]{22}$/).optional(),
});

/**
 * Picture bytes: a memory LRU bounded by bytes, and Redis behind it when configured (so replicas
 * share the CDN fetch). Entries live only until their `expiresAt`; Redis keys get that TTL too.
 * Redis trouble is a miss, never a failure.
 */
export class AvatarStore {
  private readonly memory: LRUCache<string, StoredAvatar> | undefined;

  constructor(private readonly options: AvatarStoreOptions) {
    if (options.maxBytes > 0) {
      this.memory = new LRUCache<string, StoredAvatar>({
        maxSize: options.maxBytes,
        sizeCalculation: (value) => value.bytes.length + ENTRY_OVERHEAD_BYTES,
        perf: { now: () => options.clock.now() },
      });
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
    const raw = await this.options.shared?.getRemote(key);
    // base64 grows by 4/3; anything longer than the largest picture could be is not ours.
    if (typeof raw !== 'string' || raw.length > Math.ceil(this.options.maxValueBytes / 3) * 4 + 1024) return undefined;
    const parsed = safeJson(raw);
    const value = RedisValue.safeParse(parsed);
    if (!value.success || value.data.expiresAt <= now) return undefined;
    const bytes = Buffer.from(value.data.b64, 'base64');
    if (bytes.length === 0 || bytes.length > this.options.maxValueBytes) return undefined;
    const { source, contentType, etag, expiresAt, picture } = value.data;
    const avatar: StoredAvatar = { source, contentType, bytes, etag, expiresAt, ...(picture ? { picture } : {}) };
    this.remember(key, avatar);
    return avatar;
  }

  async set(key: string, avatar: StoredAvatar): Promise<void> {
    const ttl = avatar.expiresAt - this.options.clock.now();
    if (ttl <= 0) return;
    this.remember(key, avatar);
    const { bytes, ...rest } = avatar;
    await this.options.shared?.setRemote(key, JSON.stringify({ ...rest, b64: bytes.toString('base64') }), ttl);
  }

  /** Drops memory copies (another replica stored newer bytes in Redis). */
  forgetMemory(keys: readonly string[]): void {
    for (const key of keys) this.memory?.delete(key);
  }

  close(): void {
    this.memory?.clear();
  }

  private remember(key: string, avatar: StoredAvatar): void {
    const ttl = avatar.expiresAt - this.options.clock.now();
    if (ttl > 0) this.memory?.set(key, avatar, { ttl });
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
