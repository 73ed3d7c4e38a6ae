import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { z } from 'zod';

/** The newest token of an account, as one replica learned it from Meta. */
export interface StoredToken {
  accessToken: string;
  /** Epoch ms from Meta's `expires_in`; null when Meta did not say. */
  expiresAt: number | null;
  /** Epoch ms of the refresh that produced it. */
  refreshedAt: number;
}

/** Where encrypted records live: Redis in production, a Map in unit tests. */
export interface TokenBackend {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface TokenStore {
  load(configuredToken: string): Promise<StoredToken | undefined>;
  save(configuredToken: string, token: StoredToken): Promise<void>;
  close(): Promise<void>;
}

const MAX_RECORD_CHARS = 16 * 1024;
/** A record outlives its token by a little, never forever. */
const DEFAULT_TTL_MS = 61 * 86_400_000;

const envelope = z.object({ v: z.literal(1), iv: z.string().max(64), tag: z.string().max(64), data: z.string().max(MAX_RECORD_CHARS) });
const record = z.object({
  accessToken: z.string().min(1).max(4096),
  expiresAt: z.number().int().nullable(),
  refreshedAt: z.number().int(),
});

/**
 * Refreshed tokens, encrypted with AES-256-GCM under TOKEN_ENCRYPTION_KEY. The record's key is an
 * HMAC of the configured token under the encryption key: every replica configured with the same
 * token finds it, and neither the key nor Redis ever holds a token in clear. The key name is also
 * the GCM associated data, so a record copied to another slot fails to decrypt.
 */
export function createTokenStore(options: { key: Buffer; keyPrefix: string; backend: TokenBackend }): TokenStore {
  const slot = (configuredToken: string) =>
    `${options.keyPrefix}:token:${createHmac('sha256', options.key).update(`token-slot\0${configuredToken}`).digest('hex').slice(0, 32)}`;
  return {
    async load(configuredToken) {
      const name = slot(configuredToken);
      const raw = await options.backend.get(name);
      if (raw === undefined) return undefined;
      if (raw.length > MAX_RECORD_CHARS) throw new Error('stored token record is too large');
      const parsed = envelope.safeParse(safeJson(raw));
      if (!parsed.success) throw new Error('stored token record is malformed');
      const decipher = createDecipheriv('aes-256-gcm', options.key, Buffer.from(parsed.data.iv, 'base64'));
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(Buffer.from(parsed.data.tag, 'base64'));
      let clear: string;
      try {
        clear = Buffer.concat([decipher.update(Buffer.from(parsed.data.data, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new Error('stored token record does not decrypt with TOKEN_ENCRYPTION_KEY');
      }
      const token = record.safeParse(safeJson(clear));
      if (!token.success) throw new Error('stored token record is malformed');
      return token.data;
    },
    async save(configuredToken, token) {
      const name = slot(configuredToken);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', options.key, iv);
      cipher.setAAD(Buffer.from(name));
      const data = Buffer.concat([cipher.update(JSON.stringify(token), 'utf8'), cipher.final()]);
      const value = JSON.stringify({ v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') });
      const ttlMs = token.expiresAt === null ? DEFAULT_TTL_MS : Math.max(60_000, token.expiresAt - token.refreshedAt + 86_400_000);
      await options.backend.set(name, value, ttlMs);
    },
    close: () => options.backend.close(),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A Redis connection of its own (the cache's may be degraded to memory; tokens must not be). Every operation is bounded by `timeoutMs`. */
export function redisTokenBackend(url: string, timeoutMs: number): TokenBackend {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 5000) },
  });
  // Errors surface through the operations below; an unhandled 'error' event would crash the process.
  client.on('error', () => undefined);
  let connecting: Promise<unknown> | undefined;
  const ready = async () => {
    if (client.isReady) return;
    connecting ??= client.connect().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    await bounded(connecting, timeoutMs);
  };
  return {
    async get(key) {
      await ready();
      const value = await bounded(client.get(key), timeoutMs);
      return typeof value === 'string' ? value : undefined;
    },
    async set(key, value, ttlMs) {
      await ready();
      await bounded(client.set(key, value, { PX: Math.round(ttlMs) }), timeoutMs);
    },
    async close() {
      try {
        client.destroy();
      } catch {
        // never connected, or already closed
      }
    },
  };
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
