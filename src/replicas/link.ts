import { randomUUID } from 'node:crypto';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { connectRedis } from '../profiles/cache-store.js';
import { busMessageSchema, MAX_MESSAGE_BYTES, type BusMessage } from './messages.js';

type RedisClient = ReturnType<typeof connectRedis>;
type Outgoing = BusMessage extends infer M ? (M extends BusMessage ? Omit<M, 'from'> : never) : never;

export interface ReplicaLinkOptions {
  url: string;
  /** CACHE_KEY_PREFIX: the bus channel is `<prefix>:bus`, so gateways with other prefixes never hear each other. */
  keyPrefix: string;
  /** REDIS_TIMEOUT_MS: no coordination step waits longer on Redis. */
  timeoutMs: number;
  logger: Logger;
  metrics: Metrics;
  clock?: Clock;
}

/**
 * This process's line to the other replicas: one Redis connection for commands (leases, shared
 * state) and one subscribed to the bus. Every command is bounded by REDIS_TIMEOUT_MS and answers
 * `undefined` when Redis is slow or away, so callers fall back to acting alone; `ready()` is false
 * until both connections are up and subscribed, and listeners of `onReady` hear when that returns
 * (to catch up on state missed meanwhile).
 */
export class ReplicaLink {
  /** Tells this process's own bus messages from the others'. */
  readonly id = randomUUID();
  private readonly client: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly channel: string;
  private readonly clock: Clock;
  private readonly listeners = new Set<(message: BusMessage) => void>();
  private readonly readyListeners = new Set<() => void>();
  private subscribed = false;
  /** The bus listener is registered once; node-redis renews the subscription after each reconnect. */
  private listening = false;
  private clientReady = false;
  /** Whether the current connected spell was announced (once per (re)connection, not per client). */
  private announced = false;

  constructor(private readonly options: ReplicaLinkOptions) {
    this.clock = options.clock ?? systemClock;
    this.channel = `${options.keyPrefix}:bus`;
    this.client = connectRedis(options.url);
    this.subscriber = connectRedis(options.url);
    this.client.on('error', () => undefined);
    this.subscriber.on('error', () => undefined);
    this.client.on('ready', () => {
      this.clientReady = true;
      this.announceReady();
    });
    const lost = () => {
      this.clientReady = false;
      this.announced = false;
    };
    this.client.on('end', lost);
    this.client.on('reconnecting', lost);
    // node-redis subscribes again by itself after a reconnect; the bus is usable once it has.
    this.subscriber.on('reconnecting', () => {
      this.subscribed = false;
      this.announced = false;
    });
    this.subscriber.on('ready', () => void this.subscribe());
    void this.client.connect().catch(() => undefined);
    void this.subscriber.connect().catch(() => undefined);
  }

  ready(): boolean {
    return this.clientReady && this.client.isReady && this.subscribed && this.subscriber.isReady;
  }

  onMessage(listener: (message: BusMessage) => void): void {
    this.listeners.add(listener);
  }

  onReady(listener: () => void): void {
    this.readyListeners.add(listener);
  }

  /** Runs a command on the command connection; undefined when Redis is not ready, fails or is slower than REDIS_TIMEOUT_MS. */
  async run<T>(command: (redis: RedisClient) => Promise<T>): Promise<T | undefined> {
    if (!this.clientReady || !this.client.isReady) return undefined;
    let timer: ClockTimer | undefined;
    const { timeoutMs } = this.options;
    const started = this.clock.now();
    try {
      return await Promise.race([
        command(this.client),
        new Promise<undefined>((resolve) => {
          let extended = false;
          const expire = () => {
            // A timer that fires more than a timeout late means this process was busy, not Redis slow: the
            // command may not even have been written yet (the client writes on a later tick). Redis gets
            // one more timeout from now, once.
            if (!extended && this.clock.now() - started > 2 * timeoutMs) {
              extended = true;
              timer = this.clock.setTimeout(expire, timeoutMs);
              return;
            }
            // After a busy spell timers run before I/O: a reply already received is read first (setImmediate
            // runs after the poll phase).
            setImmediate(() => resolve(undefined));
          };
          timer = this.clock.setTimeout(expire, timeoutMs);
        }),
      ]);
    } catch {
      return undefined;
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  /** Tells every replica (this one ignores its own); best effort, never waits beyond the timeout. */
  async publish(message: Outgoing): Promise<void> {
    const text = JSON.stringify({ ...message, from: this.id });
    if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
      this.options.metrics.replicaEvents.inc({ event: 'bus_too_large' });
      return;
    }
    await this.run((redis) => redis.publish(this.channel, text));
  }

  /** The bus channel, for scripts that publish atomically with other commands. */
  get busChannel(): string {
    return this.channel;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.readyListeners.clear();
    for (const client of [this.client, this.subscriber]) {
      try {
        if (client.isOpen) client.destroy();
      } catch {
        // already closed
      }
    }
  }

  private async subscribe(): Promise<void> {
    try {
      if (!this.listening) {
        await this.subscriber.subscribe(this.channel, (text) => this.hear(text));
        this.listening = true;
      }
      this.subscribed = true;
      this.announceReady();
    } catch {
      // The next 'ready' tries again.
    }
  }

  private announceReady(): void {
    if (!this.ready() || this.announced) return;
    this.announced = true;
    this.options.logger.info('replica bus connected: coordinating with other replicas through Redis');
    for (const listener of this.readyListeners) listener();
  }

  private hear(text: string): void {
    if (text.length > MAX_MESSAGE_BYTES) {
      this.options.metrics.replicaEvents.inc({ event: 'bus_too_large' });
      return;
    }
    let parsed: ReturnType<typeof busMessageSchema.safeParse>;
    try {
      parsed = busMessageSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = busMessageSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      this.options.metrics.replicaEvents.inc({ event: 'bus_invalid' });
      return;
    }
    if (parsed.data.from === this.id) return;
    for (const listener of this.listeners) {
      try {
        listener(parsed.data);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'a replica bus listener failed');
      }
    }
  }
}
