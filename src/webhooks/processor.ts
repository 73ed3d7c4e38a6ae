import type { AccountRegistry } from '../accounts.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { WebhookDedupe } from './dedupe.js';
import { CONSENT_TYPES, type DeliveryEntry } from './delivery.js';
import type { PrefetchQueue } from './prefetch.js';

export interface ProcessorDeps {
  accounts: AccountRegistry;
  dedupe: WebhookDedupe;
  keyPrefix: string;
  /** The account's prefetch queue; undefined without a cache (a prefetched profile would have nowhere to stay). */
  prefetchQueue(accountId: string): PrefetchQueue | undefined;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The work after a delivery was acknowledged: skip echoes and redeliveries, then per account and
 * per distinct sender record the interaction, drop a remembered refusal (the person just
 * interacted, so consent now exists), and hand the senders to the account's bounded prefetch queue
 * (groups of 50 through the cache and shared batcher: N distinct senders cost ⌈N/50⌉ round trips).
 */
export async function processDelivery(entries: readonly DeliveryEntry[], deps: ProcessorDeps): Promise<void> {
  const { metrics } = deps;
  // account id → sender → latest timestamp seen in this delivery, and whether an item granted consent
  const senders = new Map<string, Map<string, Interaction>>();
  const comments: Array<Promise<void>> = [];

  for (const entry of entries) {
    for (let i = 0; i < entry.invalid; i++) metrics.webhookEvents.inc({ account: 'unknown', type: 'other', result: 'invalid' });
    const account = deps.accounts.get(entry.accountId);
    if (!account) {
      for (const event of entry.events) metrics.webhookEvents.inc({ account: 'unknown', type: event.type, result: 'unknown_account' });
      if (entry.events.length) deps.logger.warn({ account: entry.accountId, items: entry.events.length }, 'webhook entry for an account this gateway does not serve: skipped');
      continue;
    }
    for (const item of entry.comments) {
      // Commenters have not consented: remember the handle only; no contact, no prefetch.
      if (item.commenterId === undefined || item.commenterId === account.id) {
        metrics.webhookEvents.inc({ account: account.id, type: 'comment', result: 'ignored' });
        continue;
      }
      metrics.webhookEvents.inc({ account: account.id, type: 'comment', result: 'processed' });
      comments.push(account.commenters.remember(item.commenterId, item.username, item.timestamp ?? Date.now()));
    }
    for (const event of entry.events) {
      // Echoes are the business's own messages: the "sender" is the business, not a person.
      if (event.echo || event.senderId === account.id) {
        metrics.webhookEvents.inc({ account: account.id, type: event.type, result: 'echo' });
        continue;
      }
      if (event.type === 'other') {
        metrics.webhookEvents.inc({ account: account.id, type: 'other', result: 'ignored' });
        continue;
      }
      if (!(await deps.dedupe.claim(`${deps.keyPrefix}:${account.id}:webhook:${event.dedupeId}`))) {
        metrics.webhookEvents.inc({ account: account.id, type: event.type, result: 'duplicate' });
        continue;
      }
      metrics.webhookEvents.inc({ account: account.id, type: event.type, result: 'processed' });
      const bySender = senders.get(account.id) ?? new Map<string, Interaction>();
      const known = bySender.get(event.senderId);
      bySender.set(event.senderId, {
        at: Math.max(known?.at ?? 0, event.timestamp ?? 0) || undefined,
        consent: Boolean(known?.consent) || CONSENT_TYPES.has(event.type),
      });
      senders.set(account.id, bySender);
    }
  }

  await Promise.all([...comments, ...[...senders].map(([accountId, bySender]) => prefetchAccount(accountId, bySender, deps))]);
}

interface Interaction {
  at: number | undefined;
  consent: boolean;
}

async function prefetchAccount(accountId: string, bySender: Map<string, Interaction>, deps: ProcessorDeps): Promise<void> {
  const account = deps.accounts.get(accountId)!;
  const ids = [...bySender.keys()];
  // Consent first, so the prefetch below asks Meta instead of replaying a remembered refusal.
  const now = Date.now();
  await account.contacts.record(ids.map((igsid) => ({ igsid, atMs: bySender.get(igsid)!.at ?? now })));
  // Reactions and seen receipts are interactions, but only what Meta says grants consent lifts a refusal.
  await account.forgetNegative(ids.filter((igsid) => bySender.get(igsid)!.consent));
  const times = new Map<string, number>();
  for (const [igsid, { at }] of bySender) if (at !== undefined) times.set(igsid, at);
  await account.interactions.record(times);
  deps.prefetchQueue(accountId)?.enqueue(ids);
}
