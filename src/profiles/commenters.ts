import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { CrmRedis } from './crm-redis.js';

/** Instagram handles are at most 30 characters; anything longer is cut before it is kept. */
export const MAX_USERNAME_LENGTH = 30;

/**
 * Usernames of people who commented on the business's media (comment webhooks), per account. A
 * commenter has not consented, so their profile stays unreadable; their handle, which Meta sent
 * in the webhook, lets an inbox still show "@username".
 */
export interface CommenterLog {
  remember(igsid: string, username: string, atMs: number): Promise<void>;
  usernameOf(igsid: string): Promise<string | null>;
}

export interface CommenterLogOptions {
  namespace: string;
  retentionMs: number;
  maxEntries: number;
  clock: Clock;
  redis: CrmRedis | undefined;
}

export function createCommenterLog(options: CommenterLogOptions): CommenterLog {
  const { retentionMs, clock } = options;
  // Memory: the newest `maxEntries`, each for `retentionMs`; the fallback when Redis can't answer.
  const memory = new LRUCache<string, { username: string; atMs: number }>({ max: options.maxEntries });
  const fromMemory = (igsid: string) => {
    const hit = memory.get(igsid);
    return hit && hit.atMs >= clock.now() - retentionMs ? hit.username : null;
  };
  const redis = options.redis;
  if (!redis) {
    return {
      async remember(igsid, username, atMs) {
        memory.set(igsid, { username: username.slice(0, MAX_USERNAME_LENGTH), atMs });
      },
      usernameOf: async (igsid) => fromMemory(igsid),
    };
  }
  const times = `${options.namespace}:commenters`;
  const names = `${options.namespace}:commenter-names`;
  return {
    async remember(igsid, username, atMs) {
      const handle = username.slice(0, MAX_USERNAME_LENGTH);
      memory.set(igsid, { username: handle, atMs });
      const args = [igsid, handle, String(atMs), String(clock.now() - retentionMs), String(options.maxEntries), String(retentionMs)];
      await redis.run('commenters_remember', ['EVAL', REMEMBER_SCRIPT, '2', times, names, ...args]);
    },
    async usernameOf(igsid) {
      const reply = lookupReply.safeParse(await redis.run('commenters_lookup', ['EVAL', LOOKUP_SCRIPT, '2', times, names, igsid]));
      if (!reply.success) return fromMemory(igsid);
      const [at, username] = reply.data;
      return at !== null && username !== null && at >= clock.now() - retentionMs ? username.slice(0, MAX_USERNAME_LENGTH) : null;
    },
  };
}

// A sorted set (IGSID by comment time) bounds the hash of usernames by age and by count; what
// falls out of one is deleted from the other. At most 100 drops per call keep each call short.
const REMEMBER_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local gone = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[4], 'BYSCORE', 'LIMIT', 0, 100)
local excess = redis.call('ZCARD', KEYS[1]) - #gone - tonumber(ARGV[5])
if excess > 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], #gone, #gone + math.min(excess, 100) - 1)) do table.insert(gone, m) end
end
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('HDEL', KEYS[2], unpack(gone))
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1`;

const LOOKUP_SCRIPT = `return {redis.call('ZSCORE', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[2], ARGV[1])}`;

// A miss is Lua `false`, which reaches us as null: [score | null, username | null].
const lookupReply = z
  .tuple([z.string().nullable(), z.string().nullable()])
  .transform(([at, username]): [number | null, string | null] => [at !== null && /^\d+$/.test(at) ? Number(at) : null, username]);
