import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { CrmRedis } from './crm-redis.js';

/** A person who interacted with the business, and when they last did (epoch ms). */
export interface Contact {
  igsid: string;
  atMs: number;
}

/**
 * The people who interacted with one business account, most recent first. Order is by last
 * interaction descending, then IGSID descending (as Redis orders a reversed sorted set), so a
 * `Contact` is also a position: `page(after)` continues strictly after it.
 */
export interface ContactLog {
  /** Never moves a person's time backwards (redeliveries, out-of-order deliveries). One Redis call per 1000. */
  record(contacts: readonly Contact[]): Promise<void>;
  page(after: Contact | undefined, limit: number): Promise<Contact[]>;
}

export interface ContactLogOptions {
  /** `<CACHE_KEY_PREFIX>:<account>` */
  namespace: string;
  retentionMs: number;
  maxEntries: number;
  clock: Clock;
  redis: CrmRedis | undefined;
}

/** Writes that Redis missed, replayed when it answers again: at most this many, newest kept. */
const MAX_PENDING = 10_000;
/** Contacts per Redis call. */
const WRITE_CHUNK = 1000;

/**
 * Memory always (bounded); Redis in front of it when configured, memory answering whenever Redis
 * can't. A write Redis missed (down, slow, not yet connected) is kept and replayed once it answers.
 */
export function createContactLog(options: ContactLogOptions): ContactLog {
  const memory = new MemoryContactLog(options.retentionMs, options.maxEntries, options.clock);
  if (!options.redis) return memory;
  const redis = new RedisContactLog(`${options.namespace}:contacts`, options.redis, options.retentionMs, options.maxEntries, options.clock);
  const pending = new Map<string, number>();
  const write = async (contacts: readonly Contact[]) => {
    for (let i = 0; i < contacts.length; i += WRITE_CHUNK) {
      const chunk = contacts.slice(i, i + WRITE_CHUNK);
      if (await redis.record(chunk)) continue;
      for (const { igsid, atMs } of chunk) {
        pending.delete(igsid);
        pending.set(igsid, Math.max(atMs, pending.get(igsid) ?? 0));
        if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value!);
      }
    }
  };
  const replay = async () => {
    const missed = [...pending].map(([igsid, atMs]) => ({ igsid, atMs }));
    pending.clear();
    await write(missed);
  };
  return {
    async record(contacts) {
      await memory.record(contacts);
      if (pending.size) await replay();
      await write(contacts);
    },
    async page(after, limit) {
      if (pending.size) await replay();
      return (await redis.page(after, limit)) ?? memory.page(after, limit);
    },
  };
}

/** True when `a` comes before `b` in contact order. */
function precedes(a: Contact, b: Contact): boolean {
  return a.atMs > b.atMs || (a.atMs === b.atMs && a.igsid > b.igsid);
}

/** A sorted array plus an index: O(log n) lookups, O(n) moves (n ≤ CONTACTS_MAX_PER_ACCOUNT), least recent dropped first. */
export class MemoryContactLog implements ContactLog {
  private readonly sorted: Contact[] = [];
  private readonly byId = new Map<string, number>();

  constructor(
    private readonly retentionMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  async record(contacts: readonly Contact[]): Promise<void> {
    for (const { igsid, atMs } of contacts) {
      const known = this.byId.get(igsid);
      if (known !== undefined) {
        if (known >= atMs) continue;
        this.sorted.splice(this.indexAfter({ igsid, atMs: known }) - 1, 1);
      }
      const contact = { igsid, atMs };
      this.sorted.splice(this.indexAfter(contact), 0, contact);
      this.byId.set(igsid, atMs);
    }
    this.trim();
  }

  async page(after: Contact | undefined, limit: number): Promise<Contact[]> {
    this.trim();
    const start = after ? this.indexAfter(after) : 0;
    return this.sorted.slice(start, start + limit).map((contact) => ({ ...contact }));
  }

  /** Index of the first contact that comes after `position`. */
  private indexAfter(position: Contact): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (precedes(position, this.sorted[mid]!)) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  private trim(): void {
    const oldest = this.clock.now() - this.retentionMs;
    while (this.sorted.length > this.maxEntries || (this.sorted.length > 0 && this.sorted[this.sorted.length - 1]!.atMs < oldest)) {
      this.byId.delete(this.sorted.pop()!.igsid);
    }
  }
}

// One atomic step: add (only ever moving a time forward), drop what is past retention, keep the
// newest `max`, and let an idle account's set expire on its own. ARGV: oldest, max, ttl, then
// score/member pairs.
const RECORD_SCRIPT = `
for i = 4, #ARGV, 2 do redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** `ZRANGE … WITHSCORES` as RESP2 gives it: member, score, member, score… */
const rangeReply = z.array(z.string()).refine((items) => items.length % 2 === 0);
const member = z.string().regex(/^[0-9]{1,20}$/);
const score = z.coerce.number().int().nonnegative();

/**
 * A sorted set per account, `<CACHE_KEY_PREFIX>:<account>:contacts`, member = IGSID, score = last
 * interaction (ms); shared by every replica. Answers `undefined` when Redis could not answer.
 */
class RedisContactLog {
  constructor(
    private readonly key: string,
    private readonly redis: CrmRedis,
    private readonly retentionMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  /** False when Redis did not take the write. */
  async record(contacts: readonly Contact[]): Promise<boolean> {
    const oldest = this.clock.now() - this.retentionMs;
    const args = [String(oldest), String(this.maxEntries), String(this.retentionMs), ...contacts.flatMap((c) => [String(c.atMs), c.igsid])];
    return (await this.redis.run('contacts_record', ['EVAL', RECORD_SCRIPT, '1', this.key, ...args])) !== undefined;
  }

  async page(after: Contact | undefined, limit: number): Promise<Contact[] | undefined> {
    const oldest = this.clock.now() - this.retentionMs;
    const out: Contact[] = [];
    // Ties at the cursor's millisecond come first in the range and are skipped: at most a few reads.
    for (let offset = 0; out.length < limit; ) {
      const count = limit - out.length + 1;
      const reply = rangeReply.safeParse(
        await this.redis.run('contacts_page', ['ZRANGE', this.key, after ? String(after.atMs) : '+inf', String(oldest), 'BYSCORE', 'REV', 'LIMIT', String(offset), String(count), 'WITHSCORES']),
      );
      if (!reply.success) return undefined;
      const items = reply.data;
      for (let i = 0; i < items.length && out.length < limit; i += 2) {
        const igsid = member.safeParse(items[i]);
        const atMs = score.safeParse(items[i + 1]);
        if (!igsid.success || !atMs.success) continue;
        const contact = { igsid: igsid.data, atMs: atMs.data };
        if (!after || precedes(after, contact)) out.push(contact);
      }
      if (items.length / 2 < count) break;
      offset += items.length / 2;
    }
    return out;
  }
}
