// @keyv/redis ships node-redis and re-exports its client; the store speaks plain Redis through it.
import { createClient } from '@keyv/redis';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { errorCode, redisAddress } from '../startup-errors.js';
import { REPLAY_MAX_KEYS, ReplayBuffer, type ReplayOp } from './replay.js';

export type StoreLayer = 'memory' | 'redis';
export interface StoreHit<T> {
  value: T;
  layer: StoreLayer;
}
export interface StoreWrite {
  key: string;
  value: unknown;
  ttlMs: number;
}

/**
 * Where cache entries live: a bounded in-memory LRU (always), and Redis behind it when
 * `REDIS_URL` is set, under exactly the keys given (JSON values, TTL as PX). Redis trouble never
 * fails a lookup: an operation that errors or outlasts its timeout is counted, logged once per
 * outage, and treated as a miss. Many keys travel in chunks (MGET, MULTI) of at most
 * `REDIS_CHUNK_KEYS`, one chunk at a time, so a large delivery never floods Redis.
 */
export interface CacheStore {
  /**
   * One answer per key, in order: memory first, the rest from Redis. A Redis value that is not
   * JSON or fails `schema` is a miss (counted, logged), never an error and never copied to memory.
   * Memory hits are returned as stored, not parsed again: memory only holds what this process
   * built or validated before writing it.
   */
  getMany<T>(keys: readonly string[], schema: z.ZodType<T>, options?: { durable?: boolean }): Promise<Array<StoreHit<T> | undefined>>;
  get<T>(key: string, schema: z.ZodType<T>): Promise<StoreHit<T> | undefined>;
  /**
   * `durable` (also for `getMany`): Redis is used even in the pause it gets after a slow operation
   * (for data that lives nowhere else, such as interaction times); skipped only while disconnected.
   */
  setMany(writes: readonly StoreWrite[], options?: { durable?: boolean }): Promise<void>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** This process's memory copy of `key` (validated when it was stored), without asking Redis. */
  peekMemory<T>(key: string): T | undefined;
  /** Keeps a copy of a (validated) Redis hit in memory, so the next lookup stays local. */
  setMemoryOnly(key: string, value: unknown, ttlMs: number): void;
  /** Drops this process's memory copies only (another replica changed what they answer). */
  forgetMemory(keys: readonly string[]): void;
  /**
   * Sets `key` only if no process did within `ttlMs` (Redis SET NX PX): true when this call set it,
   * false when it was there; undefined when Redis is absent or did not answer (decide locally).
   */
  claim(key: string, ttlMs: number): Promise<boolean | undefined>;
  /** `durable`: kept for replay (bounded, REPLAY_MAX_KEYS) if Redis cannot take it now. */
  deleteMany(keys: readonly string[], options?: { durable?: boolean }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Redis alone, no memory copy: for values another layer bounds in memory itself (avatar bytes). Undefined without Redis, or when not JSON. */
  getRemote(key: string): Promise<unknown>;
  setRemote(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** `ok`, or `degraded` while Redis is unreachable (memory still serves). */
  state(): { layer: StoreLayer; status: 'ok' | 'degraded' };
  close(): Promise<void>;
}

export interface CacheStoreOptions {
  maxEntries: number;
  /** CACHE_MAX_BYTES: estimated bytes (keys and values) the memory layer keeps; default DEFAULT_MEMORY_MAX_BYTES. */
  maxBytes?: number;
  redisUrl?: string | undefined;
  redisTimeoutMs: number;
  logger: Logger;
  metrics: Metrics;
  clock?: Clock;
}

export function createCacheStore(options: CacheStoreOptions): CacheStore {
  return new LayeredStore(options);
}

export const DEFAULT_MEMORY_MAX_BYTES = 64 * 2 ** 20;
const REDIS_SUSPEND_MS = 1000;
/** Longest a webhook dedupe claim waits on Redis before this process decides alone. */
const CLAIM_TIMEOUT_MS = 1000;
/** Keys per MGET / MULTI: large enough to need few round trips, small enough to answer within the timeout. */
export const REDIS_CHUNK_KEYS = 500;

export function connectRedis(url: string) {
  return createClient({
    url,
    // Fail fast while disconnected instead of queueing commands behind a dead socket.
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000) },
  });
}
type RedisClient = ReturnType<typeof connectRedis>;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += REDIS_CHUNK_KEYS) out.push(items.slice(i, i + REDIS_CHUNK_KEYS));
  return out;
}

class LayeredStore implements CacheStore {
  /** Values are kept as objects in memory: no serialisation or parsing on the hot path. */
  private readonly memory: LRUCache<string, { value: unknown }>;
  private readonly redis: RedisClient | undefined;
  private readonly clock: Clock;
  private redisHealthy = true;
  /** After a failed or slow operation, Redis is skipped for a moment instead of slowing every lookup. */
  private redisSuspendedUntil = 0;
  /** Durable writes and deletes that Redis could not take, replayed when it is back. */
  private readonly replay: ReplayBuffer;
  private replaying = false;
  /** Redis writes under way: close() lets them finish (each chunk is bounded by the timeout). */
  private readonly writing = new Set<Promise<void>>();

  constructor(private readonly options: CacheStoreOptions) {
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    this.replay = new ReplayBuffer(REPLAY_MAX_KEYS, (count) => {
      options.metrics.cacheErrors.inc({ layer: 'redis', operation: 'replay_dropped' }, count);
      options.logger.warn({ count, limit: REPLAY_MAX_KEYS }, 'Redis away too long: durable writes beyond the replay buffer dropped');
    });
    this.memory = new LRUCache({ max: options.maxEntries, maxSize: options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES, perf: { now: () => clock.now() } });
    if (options.redisUrl) {
      const redis = connectRedis(options.redisUrl);
      this.redis = redis;
      redis.on('ready', () => {
        this.redisSuspendedUntil = 0;
        this.markRedis(true);
        void this.replayBuffered();
      });
      redis.on('error', (error: unknown) => this.markRedis(false, error));
      // Connect in the background: the gateway serves from memory and upstream until Redis answers.
      void redis.connect().catch(() => this.markRedis(false));
    }
  }

  async getMany<T>(keys: readonly string[], schema: z.ZodType<T>, options: { durable?: boolean } = {}): Promise<Array<StoreHit<T> | undefined>> {
    const hits: Array<StoreHit<T> | undefined> = keys.map((key) => {
      const local = this.memory.get(key);
      return local ? { value: local.value as T, layer: 'memory' } : undefined;
    });
    const missing = keys.flatMap((key, i) => (hits[i] ? [] : [i]));
    for (const part of chunks(missing)) {
      const redis = this.redisFor(options);
      if (!redis) break;
      const values = await this.guard('get', () => redis.mGet(part.map((i) => keys[i]!)));
      if (!values) break;
      const invalid: string[] = [];
      part.forEach((index, j) => {
        const raw = values[j];
        if (typeof raw !== 'string') return;
        hits[index] = this.parse(keys[index]!, raw, schema);
        if (!hits[index]) invalid.push(keys[index]!);
      });
      // An unusable value is dropped, so it is reported once and never read again.
      if (invalid.length) await this.guard('delete', () => redis.del(invalid));
    }
    return hits;
  }

  async get<T>(key: string, schema: z.ZodType<T>): Promise<StoreHit<T> | undefined> {
    return (await this.getMany([key], schema))[0];
  }

  async setMany(writes: readonly StoreWrite[], options: { durable?: boolean } = {}): Promise<void> {
    for (const write of writes) this.setMemoryOnly(write.key, write.value, write.ttlMs);
    if (!this.redis) return;
    const now = this.clock.now();
    const ops: ReplayOp[] = writes.map((write) => ({ kind: 'set', key: write.key, value: write.value, expiresAt: now + write.ttlMs }));
    const writing = this.apply(ops, options.durable ?? false);
    this.writing.add(writing);
    try {
      await writing;
    } finally {
      this.writing.delete(writing);
    }
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.setMany([{ key, value, ttlMs }]);
  }

  peekMemory<T>(key: string): T | undefined {
    return this.memory.get(key)?.value as T | undefined;
  }

  setMemoryOnly(key: string, value: unknown, ttlMs: number): void {
    // Sized once, here; an entry larger than the whole budget is not kept (lru-cache drops any older copy).
    this.memory.set(key, { value }, { ttl: ttlMs, size: estimateBytes(key) + estimateBytes(value) });
  }

  forgetMemory(keys: readonly string[]): void {
    for (const key of keys) this.memory.delete(key);
  }

  async claim(key: string, ttlMs: number): Promise<boolean | undefined> {
    // Claims run off the request path (after a webhook is acknowledged): they may wait longer than a lookup.
    const redis = this.redisFor({ durable: true });
    if (!redis) return undefined;
    const timeoutMs = Math.max(this.options.redisTimeoutMs, CLAIM_TIMEOUT_MS);
    const reply = await this.guard('set', () => redis.set(key, '1', { NX: true, PX: Math.max(1, Math.round(ttlMs)) }), timeoutMs);
    return reply === undefined ? undefined : reply === 'OK';
  }

  async deleteMany(keys: readonly string[], options: { durable?: boolean } = {}): Promise<void> {
    for (const key of keys) this.memory.delete(key);
    if (!this.redis) return;
    await this.apply(keys.map((key) => ({ kind: 'del', key })), options.durable ?? false);
  }

  /**
   * Sends writes and deletes to Redis in chunks. A failed chunk stops the rest; durable ones are
   * kept for replay instead (each chunk still bounded by the timeout).
   */
  private async apply(ops: readonly ReplayOp[], durable: boolean): Promise<void> {
    const parts = chunks(ops);
    for (const [i, part] of parts.entries()) {
      const redis = this.redisFor({ durable });
      const done = redis && (await this.guard(part[0]?.kind === 'del' ? 'delete' : 'set', () => this.send(redis, part)));
      if (done !== undefined) continue;
      if (durable) this.replay.add(parts.slice(i).flat());
      return;
    }
    if (durable && this.replay.size) void this.replayBuffered();
  }

  private send(redis: RedisClient, ops: readonly ReplayOp[]): Promise<unknown> {
    const multi = redis.multi();
    const now = this.clock.now();
    for (const op of ops) {
      if (op.kind === 'del') multi.del(op.key);
      else multi.set(op.key, JSON.stringify(op.value), { expiration: { type: 'PX', value: Math.max(1, Math.round(op.expiresAt - now)) } });
    }
    return multi.exec();
  }

  /** Redis is back: what it missed goes first (and goes back to the buffer if it fails again). */
  private async replayBuffered(): Promise<void> {
    if (this.replaying || !this.replay.size) return;
    this.replaying = true;
    try {
      const now = this.clock.now();
      const ops = this.replay.take().filter((op) => op.kind === 'del' || op.expiresAt > now);
      await this.apply(ops, true);
      this.options.logger.info({ operations: ops.length, left: this.replay.size }, 'replayed durable writes kept while Redis was away');
    } finally {
      this.replaying = false;
    }
  }

  async delete(key: string): Promise<void> {
    await this.deleteMany([key]);
  }

  async getRemote(key: string): Promise<unknown> {
    const redis = this.readyRedis();
    const raw = redis ? await this.guard('get', () => redis.get(key)) : undefined;
    return typeof raw === 'string' ? this.parse(key, raw, z.unknown())?.value : undefined;
  }

  async setRemote(key: string, value: unknown, ttlMs: number): Promise<void> {
    const redis = this.readyRedis();
    if (redis) await this.guard('set', () => redis.set(key, JSON.stringify(value), { expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } }));
  }

  state(): { layer: StoreLayer; status: 'ok' | 'degraded' } {
    if (!this.redis) return { layer: 'memory', status: 'ok' };
    return { layer: 'redis', status: this.readyRedis() ? 'ok' : 'degraded' };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.writing]);
    this.memory.clear();
    // destroy(), not quit(): never wait on a dead connection during shutdown.
    try {
      if (this.redis?.isOpen) this.redis.destroy();
    } catch {
      // already closed
    }
  }

  private parse<T>(key: string, raw: string, schema: z.ZodType<T>): StoreHit<T> | undefined {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return this.invalid(key, 'not JSON');
    }
    const parsed = schema.safeParse(json);
    return parsed.success ? { value: parsed.data, layer: 'redis' } : this.invalid(key, 'wrong shape');
  }

  private invalid(key: string, problem: string): undefined {
    this.options.metrics.cacheErrors.inc({ layer: 'redis', operation: 'invalid' });
    this.options.logger.warn({ key: key.slice(0, 200), problem }, 'invalid value in Redis: treated as a miss');
    return undefined;
  }

  private redisFor(options: { durable?: boolean }): RedisClient | undefined {
    return options.durable && this.redis?.isReady ? this.redis : this.readyRedis();
  }

  private readyRedis(): RedisClient | undefined {
    return this.redis?.isReady && this.clock.now() >= this.redisSuspendedUntil ? this.redis : undefined;
  }

  private markRedis(healthy: boolean, error?: unknown): void {
    if (healthy === this.redisHealthy) return;
    this.redisHealthy = healthy;
    const where = `REDIS_URL ${redisAddress(this.options.redisUrl ?? '')}`;
    if (healthy) this.options.logger.info(`Redis cache reachable again (${where})`);
    else this.options.logger.warn({ reason: errorCode(error) }, `Redis cache unreachable (${where}): serving from memory and upstream until it returns`);
  }

  private async guard<T>(operation: string, run: () => Promise<T>, timeoutMs = this.options.redisTimeoutMs): Promise<T | undefined> {
    let timer: ClockTimer | undefined;
    try {
      const result = await Promise.race([
        run(),
        new Promise<never>((_, reject) => {
          // A timer that fires late (a busy event loop) first lets replies already received be read.
          timer = this.clock.setTimeout(() => setImmediate(() => reject(new Error('redis timeout'))), timeoutMs);
        }),
      ]);
      this.markRedis(true);
      return result;
    } catch {
      this.options.metrics.cacheErrors.inc({ layer: 'redis', operation });
      this.redisSuspendedUntil = this.clock.now() + REDIS_SUSPEND_MS;
      this.markRedis(false);
      return undefined;
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }
}

const MAX_DEPTH = 8;

/**
 * A rough heap size of a JSON-like value (strings at 2 bytes a character, V8's worst case, plus
 * object and slot overheads). Deeper than MAX_DEPTH counts as one flat kibibyte: cache values are shallow.
 */
export function estimateBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return 16 + 2 * value.length;
  if (value === null || typeof value !== 'object') return 8;
  if (depth >= MAX_DEPTH) return 1024;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + 8 + estimateBytes(item, depth + 1), 16);
  let bytes = 32;
  for (const [key, item] of Object.entries(value)) bytes += 16 + key.length + estimateBytes(item, depth + 1);
  return bytes;
}
