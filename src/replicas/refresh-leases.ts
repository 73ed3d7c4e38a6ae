import type { ReplicaLink } from './link.js';

/** Deletes the leases still held by this replica (ARGV[1]); another replica's are left alone. */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1`;

/**
 * Which replica refreshes an active contact ahead: the first to claim `<namespace>:refresh:<igsid>`
 * (SET NX PX, for half the refresh lead time). The lease is kept after the refresh: the profile is
 * fresh again by the time it lapses, so the other replicas find nothing due; a replica that dies
 * holding it delays that refresh by half the lead time, still before the profile stops being fresh.
 * Every call is bounded by REDIS_TIMEOUT_MS; when Redis does not answer, the caller refreshes alone.
 */
export class RefreshLeases {
  constructor(
    private readonly link: ReplicaLink,
    private readonly namespace: string,
    private readonly leaseMs: number,
  ) {}

  /** Per id: true when this replica claimed it; undefined when Redis did not answer. */
  async claim(igsids: readonly string[]): Promise<boolean[] | undefined> {
    if (!igsids.length) return [];
    const token = this.link.id;
    const replies = await this.link.run((redis) => {
      const multi = redis.multi();
      for (const igsid of igsids) multi.set(this.keyOf(igsid), token, { NX: true, PX: this.leaseMs });
      return multi.exec();
    });
    return replies?.map((reply) => (reply as unknown) === 'OK');
  }

  /** Gives back claims this replica will not use (held back, closing), so another replica may refresh them. */
  async release(igsids: readonly string[]): Promise<void> {
    if (!igsids.length) return;
    await this.link.run((redis) => redis.eval(RELEASE, { keys: igsids.map((igsid) => this.keyOf(igsid)), arguments: [this.link.id] }));
  }

  private keyOf(igsid: string): string {
    return `${this.namespace}:refresh:${igsid}`;
  }
}
