import type { CacheStore } from './cache-store.js';

/** How long a last-interaction time is kept: Meta's human-agent messaging window is 7 days; a month covers it amply. */
const INTERACTION_TTL_MS = 30 * 86_400_000;

/**
 * When each person last interacted with one business account (message, postback, opt-in,
 * referral), as Meta's webhook timestamps say. Kept in the cache store beside the profiles under
 * `<prefix>:<account>:interaction:<igsid>`; unknown (null) without a cache store, or once evicted.
 */
export interface InteractionLog {
  record(igsid: string, atMs: number): Promise<void>;
  lastAt(igsids: readonly string[]): Promise<Array<number | null>>;
}

export function createInteractionLog(namespace: string, store: CacheStore | undefined): InteractionLog {
  if (!store) return { record: async () => undefined, lastAt: async (igsids) => igsids.map(() => null) };
  const keyOf = (igsid: string) => `${namespace}:interaction:${igsid}`;
  return {
    async record(igsid, atMs) {
      // Redeliveries and out-of-order deliveries must never move the time backwards.
      const known = (await store.get<number>(keyOf(igsid)))?.value;
      if (typeof known === 'number' && known >= atMs) return;
      await store.set(keyOf(igsid), atMs, INTERACTION_TTL_MS);
    },
    async lastAt(igsids) {
      const found = await Promise.all(igsids.map((igsid) => store.get<number>(keyOf(igsid))));
      return found.map((hit) => (typeof hit?.value === 'number' ? hit.value : null));
    },
  };
}
