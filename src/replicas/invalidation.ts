import type { Metrics } from '../metrics.js';
import type { CacheStore } from '../profiles/cache-store.js';
import type { ReplicaLink } from './link.js';

const IDS_PER_MESSAGE = 1000;
/** Deletes finished trips' answers left on lease keys (never a lease still held: its value is a token). */
const DROP_DONE = `
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and string.sub(value, 1, 1) == '{' then redis.call('DEL', key) end
end
return 1`;

/**
 * Invalidation everywhere, over the Redis pub/sub bus: when what an id answers changes on one
 * replica (a refusal dropped after a webhook, a profile fetched anew, a person purged), every
 * replica drops its memory copy of that person; its whole answers showing them are dropped by
 * the account's change feed (`AccountProfiles.onChange`, which hears the bus too). Redis
 * itself holds the one shared copy, so the next lookup reads the new state from there.
 */
export class ReplicaInvalidation {
  constructor(
    private readonly link: ReplicaLink,
    private readonly keyPrefix: string,
    private readonly store: CacheStore,
    private readonly metrics: Metrics,
  ) {
    link.onMessage((message) => {
      if (message.t === 'drop') this.dropLocal(message.account, message.ids, true);
    });
  }

  /** `ids` of `account` changed here: tell the other replicas to drop their memory copies. */
  async changed(account: string, ids: readonly string[]): Promise<void> {
    this.dropLocal(account, ids, false);
    for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
      const part = ids.slice(i, i + IDS_PER_MESSAGE);
      const keys = part.map((igsid) => `${this.keyPrefix}:${account}:lease:${igsid}`);
      await this.link.run((redis) => redis.eval(DROP_DONE, { keys }));
      await this.link.publish({ t: 'drop', account, ids: part });
    }
  }

  private dropLocal(account: string, ids: readonly string[], memory: boolean): void {
    if (memory) this.store.forgetMemory(ids.map((igsid) => `${this.keyPrefix}:${account}:${igsid}`));
    this.metrics.replicaEvents.inc({ event: 'invalidated' }, ids.length);
  }
}
