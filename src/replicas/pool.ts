import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { GraphField } from '../graph/profile.js';
import type { ProfileOutcome } from '../graph/outcomes.js';
import type { Metrics } from '../metrics.js';
import type { GroupFetcher } from '../profiles/batcher.js';
import { MAX_IDS_PER_ROUND_TRIP } from '../profiles/source.js';
import { fromMessage, toMessage } from './flight.js';
import type { ReplicaLink } from './link.js';
import { igsidSchema, type BusMessage, type FlightOutcome } from './messages.js';

/** Partial groups this process may have waiting on other replicas' trips at once; beyond it they go alone. */
export const MAX_JOINED = 1000;
/** Pools whose end this process heard lately (a JOIN reply can come back after its pool's answers). */
const MAX_HEARD = 256;

/**
 * Opens the pool (this group collects) or joins the open one while the ids fit in one trip.
 * KEYS[1] pool hash; ARGV: group id, id count, TTL ms, ids (comma-separated), most ids a trip.
 * Answers 'open', the collector's group id (joined), or '' (full: go alone).
 */
const JOIN = `
local n = redis.call('HGET', KEYS[1], 'n')
if not n then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'n', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 'open'
end
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or tonumber(n) + tonumber(ARGV[2]) > tonumber(ARGV[5]) then return '' end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[1], ARGV[4])
redis.call('HINCRBY', KEYS[1], 'n', ARGV[2])
return owner`;

/** Closes the pool if this group still owns it: answers its fields and values (nobody joins after). */
const CLOSE = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {} end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all`;

export interface PoolOptions {
  /** The business account id (in bus messages). */
  account: string;
  /** `<CACHE_KEY_PREFIX>:<account>`: pools live at `<namespace>:pool:<fields>`. */
  namespace: string;
  /** REPLICA_POOL_WINDOW_MS: how long the collector keeps its pool open. */
  windowMs: number;
  /** REPLICA_WAIT_MS: longest a joined group waits for the collector's answers before fetching itself. */
  waitMs: number;
  /** REDIS_TIMEOUT_MS: a pool nobody closes lapses this long after its window. */
  redisTimeoutMs: number;
  metrics: Metrics;
  clock?: Clock;
}

interface Joined {
  ids: readonly string[];
  /** The pool joined (its collector's group id), once Redis said so. */
  pool?: string;
  resolve(outcomes: Map<string, ProfileOutcome> | undefined): void;
}

/**
 * Pools partly filled groups of several replicas into one trip (between the batcher and the
 * graph layer's fetcher). A replica about to send a partial group opens a pool in Redis for its
 * account and field set and becomes its collector; replicas whose partial groups leave within
 * REPLICA_POOL_WINDOW_MS append their ids while the total stays ≤ 50 and wait for the answers on
 * the bus. The collector closes the pool after the window, fetches everything in one trip and
 * announces the answers. A joined group with no answer within REPLICA_WAIT_MS fetches itself, so
 * a dead collector costs one wait; without Redis, or for a full group, the trip goes alone.
 */
export class PooledFetcher implements GroupFetcher {
  /** Groups of this process that joined a pool → their wait. */
  private readonly joined = new Map<string, Joined>();
  private readonly heard = new Set<string>();
  private readonly clock: Clock;

  constructor(
    private readonly inner: GroupFetcher,
    private readonly link: ReplicaLink,
    private readonly options: PoolOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    link.onMessage((message) => this.hear(message));
  }

  async fetchGroup(ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>> {
    if (ids.length >= MAX_IDS_PER_ROUND_TRIP || !this.link.ready() || this.joined.size >= MAX_JOINED) return this.inner.fetchGroup(ids, fields);
    const group = randomUUID();
    const key = `${this.options.namespace}:pool:${fields.join(',')}`;
    // Listen before joining: the collector's answer cannot arrive before the wait exists.
    const answer = this.wait(group, ids);
    const ttl = this.options.windowMs + this.options.redisTimeoutMs;
    const args = [group, String(ids.length), String(ttl), ids.join(','), String(MAX_IDS_PER_ROUND_TRIP)];
    const reply = await this.link.run((redis) => redis.eval(JOIN, { keys: [key], arguments: args }));
    if (reply === 'open') {
      answer.cancel();
      this.count('pool_opened');
      return this.collect(key, group, ids, fields);
    }
    if (typeof reply !== 'string' || reply === '') {
      answer.cancel();
      // No reply in time: the JOIN may still have opened a pool that nobody would collect.
      if (reply === undefined) void this.abandon(key, group);
      return this.inner.fetchGroup(ids, fields);
    }
    this.count('pool_joined');
    const joined = this.joined.get(group);
    if (joined) joined.pool = reply;
    // Its answers went by before Redis told us we were in it: fetch alone now rather than wait.
    if (this.heard.has(reply)) answer.cancel();
    const outcomes = (await answer.promise) ?? new Map<string, ProfileOutcome>();
    const missing = ids.filter((igsid) => !outcomes.has(igsid));
    if (missing.length) for (const [igsid, outcome] of await this.inner.fetchGroup(missing, fields)) outcomes.set(igsid, outcome);
    return outcomes;
  }

  /** After the window: close the pool, fetch this group and the joined ones in one trip, announce their answers. */
  private async collect(key: string, group: string, ids: string[], fields: GraphField[]): Promise<Map<string, ProfileOutcome>> {
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.options.windowMs));
    const closed = await this.link.run((redis) => redis.eval(CLOSE, { keys: [key], arguments: [group] }));
    const joiners = parseJoiners(closed);
    const all = new Set(ids);
    const carried = new Set<string>();
    const groups: string[] = [];
    for (const joiner of joiners) {
      groups.push(joiner.group);
      if (all.size + joiner.ids.length > MAX_IDS_PER_ROUND_TRIP) continue; // only a tampered pool: the joiner fetches itself
      for (const igsid of joiner.ids) {
        all.add(igsid);
        carried.add(igsid);
      }
    }
    let outcomes = new Map<string, ProfileOutcome>();
    try {
      outcomes = await this.inner.fetchGroup([...all], fields);
      return outcomes;
    } finally {
      // Also when the fetch threw or the pool could not be closed: whoever joined then fetches at once.
      void this.announce(group, groups, carried, outcomes, fields);
    }
  }

  /** Closes the pool if this group opened it after all, telling whoever joined to fetch themselves. */
  private async abandon(key: string, group: string): Promise<void> {
    const closed = await this.link.run((redis) => redis.eval(CLOSE, { keys: [key], arguments: [group] }));
    await this.announce(group, parseJoiners(closed).map((joiner) => joiner.group), new Set(), new Map(), []);
  }

  /** Tells the joined `groups` the answers for the ids `carried` for them (at most one trip's). */
  private async announce(pool: string, groups: string[], carried: ReadonlySet<string>, outcomes: Map<string, ProfileOutcome>, fields: GraphField[]): Promise<void> {
    const announced: Array<{ id: string; outcome: FlightOutcome }> = [];
    for (const igsid of carried) {
      const outcome = outcomes.get(igsid);
      const message = outcome && toMessage(outcome);
      if (message) announced.push({ id: igsid, outcome: message });
    }
    const message = { t: 'pool' as const, account: this.options.account, pool, groups, fields, outcomes: announced.slice(0, MAX_IDS_PER_ROUND_TRIP) };
    // A group of this process that joined its own pool hears it here (the bus skips its own messages).
    this.settle(message);
    await this.link.publish(message);
  }

  private wait(group: string, ids: readonly string[]): { promise: Promise<Map<string, ProfileOutcome> | undefined>; cancel(): void } {
    let settle!: (outcomes: Map<string, ProfileOutcome> | undefined) => void;
    const promise = new Promise<Map<string, ProfileOutcome> | undefined>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.count('pool_timeout');
        settle(undefined);
      }, this.options.waitMs);
      settle = (outcomes) => {
        this.clock.clearTimeout(timer);
        this.joined.delete(group);
        resolve(outcomes);
      };
    });
    this.joined.set(group, { ids, resolve: settle });
    return { promise, cancel: () => settle(undefined) };
  }

  private hear(message: BusMessage): void {
    if (message.t === 'pool' && message.account === this.options.account) this.settle(message);
  }

  /** A pool's answers: for the groups listed, and for those whose JOIN said they are in it (the list may miss them). */
  private settle(message: Pick<Extract<BusMessage, { t: 'pool' }>, 'pool' | 'groups' | 'outcomes'>): void {
    this.heard.add(message.pool);
    if (this.heard.size > MAX_HEARD) this.heard.delete(this.heard.values().next().value!);
    const listed = new Set(message.groups);
    const waiting = [...this.joined].filter(([group, joined]) => listed.has(group) || joined.pool === message.pool).map(([, joined]) => joined);
    if (!waiting.length) return;
    const byId = new Map(message.outcomes.map(({ id, outcome }) => [id, outcome]));
    for (const joined of waiting) {
      const outcomes = new Map<string, ProfileOutcome>();
      for (const igsid of joined.ids) {
        const outcome = byId.get(igsid);
        if (outcome) outcomes.set(igsid, fromMessage(outcome));
      }
      joined.resolve(outcomes);
    }
  }

  private count(event: string): void {
    this.options.metrics.replicaEvents.inc({ event });
  }
}

/** The joined groups in a closed pool (HGETALL's flat reply); anything malformed is skipped. */
function parseJoiners(reply: unknown): Array<{ group: string; ids: string[] }> {
  if (!Array.isArray(reply)) return [];
  const joiners: Array<{ group: string; ids: string[] }> = [];
  for (let i = 0; i + 1 < reply.length && joiners.length < MAX_IDS_PER_ROUND_TRIP; i += 2) {
    const [field, value] = [reply[i] as unknown, reply[i + 1] as unknown];
    if (typeof field !== 'string' || !field.startsWith('j:') || field.length > 66 || typeof value !== 'string') continue;
    const ids = value.split(',', MAX_IDS_PER_ROUND_TRIP + 1);
    if (ids.length > MAX_IDS_PER_ROUND_TRIP || !ids.every((igsid) => igsidSchema.safeParse(igsid).success)) continue;
    joiners.push({ group: field.slice(2), ids });
  }
  return joiners;
}
