import type { SharedRefusal } from '../graph/strategies/auto.js';
import type { Metrics } from '../metrics.js';
import type { ReplicaLink } from './link.js';

/** How long a usage figure is kept in Redis: Meta's usage windows are an hour; a stale figure must not linger. */
export const USAGE_TTL_MS = 60_000;

export interface AccountStateHooks {
  /** Pauses this process's guard for `ms` more (UsageGuard.adopt). */
  adoptPause(ms: number): boolean;
}

/**
 * One account's state that every replica must agree on, in Redis with its expiry and announced on
 * the bus: the pause (`<namespace>:pause`, PX = its length), the latest usage percentage
 * (`<namespace>:usage`) and auto's memory that the host refuses the Batch API
 * (`<namespace>:batch-refused`). Each replica keeps acting on its local copy (no Redis read before
 * a call); the bus updates it within a round trip, and a replica that (re)connects reads the keys.
 */
export class SharedAccountState implements SharedRefusal {
  private readonly refusalListeners: Array<(ms: number) => void> = [];

  constructor(
    private readonly link: ReplicaLink,
    private readonly account: string,
    private readonly namespace: string,
    private readonly hooks: AccountStateHooks,
    private readonly metrics: Metrics,
  ) {
    link.onMessage((message) => {
      if (message.account !== account) return;
      if (message.t === 'pause' && hooks.adoptPause(message.ms)) metrics.replicaEvents.inc({ event: 'pause_adopted' });
      if (message.t === 'batch-refused') this.adoptRefusal(message.ms);
    });
    link.onReady(() => void this.catchUp());
    if (link.ready()) void this.catchUp();
  }

  /** This process paused the account for `ms`: store it (never shortening a longer pause) and tell the others. */
  paused(ms: number): void {
    const key = `${this.namespace}:pause`;
    void this.link
      .run((redis) => redis.eval(EXTEND, { keys: [key], arguments: [String(Math.round(ms))] }))
      .then(() => this.link.publish({ t: 'pause', account: this.account, ms: Math.round(ms) }));
  }

  usage(percent: number): void {
    void this.link.run((redis) => redis.set(`${this.namespace}:usage`, String(percent), { PX: USAGE_TTL_MS }));
  }

  refused(ms: number): void {
    const key = `${this.namespace}:batch-refused`;
    void this.link
      .run((redis) => redis.eval(EXTEND, { keys: [key], arguments: [String(Math.round(ms))] }))
      .then(() => this.link.publish({ t: 'batch-refused', account: this.account, ms: Math.round(ms) }));
  }

  listen(adopt: (ms: number) => void): void {
    this.refusalListeners.push(adopt);
  }

  private adoptRefusal(ms: number): void {
    this.metrics.replicaEvents.inc({ event: 'batch_refusal_adopted' });
    for (const adopt of this.refusalListeners) adopt(ms);
  }

  /** What was decided while this process was away from Redis (or before it started). */
  private async catchUp(): Promise<void> {
    const ttls = await this.link.run((redis) => Promise.all([redis.pTTL(`${this.namespace}:pause`), redis.pTTL(`${this.namespace}:batch-refused`)]));
    if (!ttls) return;
    const [pause, refusal] = ttls;
    if (pause > 0 && this.hooks.adoptPause(pause)) this.metrics.replicaEvents.inc({ event: 'pause_adopted' });
    if (refusal > 0) this.adoptRefusal(refusal);
  }
}

/** SET the key with PX ARGV[1] unless it already lives longer. */
const EXTEND = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1`;
