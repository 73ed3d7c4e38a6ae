import { z } from 'zod';
import type { CacheStore } from './cache-store.js';

/** How long a last-interaction time is kept: Meta's human-agent messaging window is 7 days; a month covers it amply. */
const INTERACTION_TTL_MS = 30 * 86_400_000;
const epochMs = z.number().int().nonnegative();

/**
 * When each person last interacted with one business account (message, postback, opt-in,
 * referral), as Meta's webhook timestamps say. Kept in the cache store beside the profiles under
 * `<prefix>:<account>:interaction:<igsid>`; unknown (null) without a cache store, or once evicted.
 */
export interface InteractionLog {
  /** Records many people's latest interaction at once (one batched read and write, however many). */
  record(times: ReadonlyMap<string, number>): Promise<void>;
  lastAt(igsids: readonly string[]): Promise<Array<number | null>>;
}

export function createInteractionLog(namespace: string, store: CacheStore | undefined): InteractionLog {
  if (!store) return { record: async () => undefined, lastAt: async (igsids) => igsids.map(() => null) };
  const keyOf = (igsid: string) => `${namespace}:interaction:${igsid}`;
  return {
    async record(times) {
      const igsids = [...times.keys()];
      const known = await store.getMany(igsids.map(keyOf), epochMs, { durable: true });
      // Redeliveries and out-of-order deliveries must never move the time backwards.
      const newer = igsids.filter((igsid, i) => (known[i]?.value ?? -1) < times.get(igsid)!);
      const writes = newer.map((igsid) => ({ key: keyOf(igsid), value: times.get(igsid), ttlMs: INTERACTION_TTL_MS }));
      // Durable: these times exist nowhere else (a profile can be fetched again; an interaction cannot).
      await store.setMany(writes, { durable: true });
    },
    async lastAt(igsids) {
      const found = await store.getMany(igsids.map(keyOf), epochMs);
      return found.map((hit) => hit?.value ?? null);
    },
  };
}
