import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { CacheStore, StoreWrite } from './cache-store.js';
import {
  cacheEntrySchema,
  NEGATIVE_CODES,
  mergeProfile,
  oldestFetch,
  profileFrom,
  fieldState,
  freshUntil,
  freshProfileOf,
  selectionState,
  storeTtlMs,
  type CacheEntry,
  type FreshnessPolicy,
} from './entry.js';
import type { ProfileSource } from './source.js';
import type { GraphField, GraphProfile } from '../graph/profile.js';
import { type GatewayErrorCode, type ProfileOutcome, type UpstreamFailure, missingOutcome } from '../graph/outcomes.js';

const REMEMBERED = new Set<string>(NEGATIVE_CODES);
/** Failures during which a stale profile beats an error. */
const STALE_IF_ERROR_CODES = new Set(['UPSTREAM_UNAVAILABLE', 'RATE_LIMITED']);

interface Miss {
  igsid: string;
  entry: CacheEntry | undefined;
  /** The entry may be served if Meta fails (stale-if-error). */
  servableOnError: boolean;
}

/**
 * One account's profiles: the field-aware cache first, then `upstream` (the shared batcher) for
 * what the cache can't serve fresh, asking only the missing fields; writes back what Meta
 * answered. Keys are `<prefix>:<account>:<igsid>`, so one business's entries are never served to
 * another.
 */
export class ProfileCache implements ProfileSource {
  private readonly revalidating = new Set<string>();
  /**
   * Per stored entry (entries are never changed, only replaced), the profile `peekFresh` last read
   * from it and for which fields: the same read gives the same object, so the warm path can keep
   * what it built from it. One per entry, gone with the entry.
   */
  private readonly reads = new WeakMap<CacheEntry, { fields: readonly GraphField[]; profile: GraphProfile }>();
  /**
   * Hears ids whose stored answer this process just replaced, as soon as memory holds them (before
   * the lookup that fetched them answers); `written` settles once Redis has them too.
   */
  onStored: ((igsids: string[], written: Promise<void>) => void) | undefined;

  constructor(
    /** The business account id (metrics label). */
    private readonly account: string,
    /** `<CACHE_KEY_PREFIX>:<business account id>` */
    private readonly namespace: string,
    private readonly store: CacheStore,
    private readonly upstream: ProfileSource,
    private readonly policy: FreshnessPolicy,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  keyOf(igsid: string): string {
    return `${this.namespace}:${igsid}`;
  }

  /** Forgets what is cached for these ids (the next lookup reads Meta), e.g. a picture URL the CDN refused. */
  async forget(igsids: readonly string[]): Promise<void> {
    await this.store.deleteMany(igsids.map((igsid) => this.keyOf(igsid)));
  }

  /** Forgets remembered refusals (consent, blocked) of these ids but keeps cached profiles. */
  async forgetNegative(igsids: readonly string[]): Promise<void> {
    // With Redis away its copies can't be looked at: drop every entry of these people once it is back.
    const degraded = this.store.state().status === 'degraded';
    const hits = degraded ? [] : await this.store.getMany(igsids.map((igsid) => this.keyOf(igsid)), cacheEntrySchema);
    const refused = degraded ? igsids : igsids.filter((_, i) => hits[i]?.value.negative);
    if (refused.length) await this.store.deleteMany(refused.map((igsid) => this.keyOf(igsid)), { durable: true });
  }

  async load(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    const distinct = [...new Set(ids)];
    const now = this.clock.now();
    const found = await this.store.getMany(distinct.map((igsid) => this.keyOf(igsid)), cacheEntrySchema);
    const results = new Map<string, ProfileOutcome>();
    const misses = new Map<string, Miss[]>();
    const toRevalidate: string[] = [];

    distinct.forEach((igsid, i) => {
      const hit = found[i];
      // A full miss is labelled with the last layer consulted (Redis when configured).
      const layer = hit?.layer ?? this.store.state().layer;
      const entry = hit?.value;
      if (entry?.negative && now - entry.negative.at < this.policy.negativeTtlMs) {
        this.metrics.cacheLookups.inc({ account: this.account, layer, result: 'negative' });
        results.set(igsid, { ok: false, failure: entry.negative.failure });
        return;
      }
      const usable = entry && !entry.negative ? entry : undefined;
      if (usable && hit?.layer === 'redis') this.store.setMemoryOnly(this.keyOf(igsid), usable, storeTtlMs(this.policy));
      const state = usable ? selectionState(usable, fields, this.policy, now) : 'missing';
      if (usable && (state === 'fresh' || state === 'revalidate')) {
        this.metrics.cacheLookups.inc({ account: this.account, layer, result: state === 'fresh' ? 'hit' : 'stale' });
        if (state === 'revalidate') {
          this.metrics.staleServed.inc({ account: this.account, reason: 'revalidate' });
          toRevalidate.push(igsid);
        }
        results.set(igsid, { ok: true, profile: this.freshProfile(usable, igsid, fields) });
        return;
      }
      this.metrics.cacheLookups.inc({ account: this.account, layer, result: usable ? 'partial' : 'miss' });
      // Ask only for what the cache can't serve fresh (a wider selection fetches just the new fields).
      const wanted = usable ? fields.filter((field) => fieldState(usable, field, this.policy, now) !== 'fresh') : [...fields];
      const group = wanted.join(',');
      const list = misses.get(group) ?? [];
      list.push({ igsid, entry: usable, servableOnError: state === 'stale' });
      misses.set(group, list);
    });

    if (toRevalidate.length) this.revalidate(toRevalidate, fields);
    await Promise.all(
      [...misses.entries()].map(async ([group, list]) => {
        const wanted = group ? (group.split(',') as GraphField[]) : [];
        const { results: outcomes, stored } = await this.fetchAndStore(list.map((miss) => miss.igsid), wanted);
        // Memory holds the answers already: Redis and the replicas' notice follow without holding up this answer.
        stored.catch((error: unknown) => this.logger.warn({ err: error }, 'storing fetched profiles failed'));
        for (const miss of list) results.set(miss.igsid, this.answer(miss, outcomes.get(miss.igsid), fields, now));
      }),
    );
    return results;
  }

  /**
   * The profiles of these (distinct) ids, in order, when memory holds every one fresh for `fields`;
   * undefined as soon as one needs more (`load` then answers it, and counts its lookups). Counted as
   * the hits `load` would count. The profiles are shared: read them, never change them.
   */
  peekFresh(igsids: readonly string[], fields: readonly GraphField[]): GraphProfile[] | undefined {
    const now = this.clock.now();
    const profiles: GraphProfile[] = [];
    for (const igsid of igsids) {
      const entry = this.store.peekMemory<CacheEntry>(this.keyOf(igsid));
      if (!entry || entry.negative) return undefined;
      const read = this.reads.get(entry);
      if (read && (read.fields === fields || read.fields.join() === fields.join())) {
        if (!(now < read.profile.freshUntil!)) return undefined;
        profiles.push(read.profile);
        continue;
      }
      const profile = freshProfileOf(entry, igsid, fields, this.policy, now);
      if (!profile) return undefined;
      this.reads.set(entry, { fields, profile });
      profiles.push(profile);
    }
    this.metrics.cacheLookups.inc({ account: this.account, layer: 'memory', result: 'hit' }, igsids.length);
    return profiles;
  }

  private freshProfile(entry: CacheEntry, igsid: string, fields: readonly GraphField[]) {
    const profile = profileFrom(entry, igsid, fields);
    profile.freshUntil = freshUntil(entry, fields, this.policy);
    return profile;
  }

  private answer(miss: Miss, fetched: FetchResult | undefined, fields: readonly GraphField[], now: number): ProfileOutcome {
    if (fetched?.ok) {
      const profile = this.freshProfile(fetched.entry, miss.igsid, fields);
      return fetched.invalid ? { ok: true, profile, invalid: fetched.invalid } : { ok: true, profile };
    }
    const failure = fetched?.failure;
    if (failure && miss.entry && miss.servableOnError && STALE_IF_ERROR_CODES.has(failure.code)) {
      this.metrics.staleServed.inc({ account: this.account, reason: 'error' });
      const ageSeconds = Math.round((now - oldestFetch(miss.entry, fields, now)) / 1000);
      this.logger.warn({ igsid: miss.igsid, ageSeconds, upstream: failure.code }, 'serving a stale profile: Meta failed');
      return { ok: true, profile: profileFrom(miss.entry, miss.igsid, fields), stale: { reason: failure.code, ageSeconds } };
    }
    return failure ? { ok: false, failure } : missingOutcome();
  }

  /**
   * Fetches through the batcher and writes what came back (merged into what the cache knew).
   * Memory is written before this returns; `stored` settles once Redis has it too (then replicas hear of it).
   */
  private async fetchAndStore(ids: readonly string[], fields: readonly GraphField[]): Promise<{ results: Map<string, FetchResult>; stored: Promise<void> }> {
    const outcomes = await this.upstream.load(ids, fields);
    const now = this.clock.now();
    const results = new Map<string, FetchResult>();
    const found = ids.filter((igsid) => outcomes.get(igsid)?.ok);
    // Read again right before merging: a concurrent fetch of other fields may have landed.
    const hits = await this.store.getMany(found.map((igsid) => this.keyOf(igsid)), cacheEntrySchema);
    const latest = new Map(found.map((igsid, i) => [igsid, hits[i]?.value]));
    const writes: StoreWrite[] = [];
    for (const igsid of ids) {
      const outcome = outcomes.get(igsid);
      if (outcome?.ok) {
        // A field Meta answered with a wrong type is never stored: the cache keeps what it knew.
        const valid = outcome.invalid ? fields.filter((field) => !outcome.invalid!.includes(field)) : fields;
        const entry = mergeProfile(latest.get(igsid), outcome.profile, valid, now);
        writes.push({ key: this.keyOf(igsid), value: entry, ttlMs: storeTtlMs(this.policy) });
        results.set(igsid, outcome.invalid ? { ok: true, entry, invalid: outcome.invalid } : { ok: true, entry });
      } else if (outcome) {
        if (REMEMBERED.has(outcome.failure.code) && this.policy.negativeTtlMs > 0) {
          const negative: CacheEntry = { fields: {}, negative: { failure: outcome.failure, at: now } };
          writes.push({ key: this.keyOf(igsid), value: negative, ttlMs: this.policy.negativeTtlMs });
        }
        results.set(igsid, { ok: false, failure: outcome.failure });
      }
    }
    // Memory holds the writes once setMany is called; Redis has them when `stored` settles.
    const stored = this.store.setMany(writes);
    if (writes.length) this.onStored?.(ids.filter((igsid) => results.has(igsid)), stored);
    return { results, stored };
  }

  /** The cached entries of these ids, in order (refresh-ahead decides from them what is due). */
  async entries(igsids: readonly string[]): Promise<Array<CacheEntry | undefined>> {
    return (await this.store.getMany(igsids.map((igsid) => this.keyOf(igsid)), cacheEntrySchema)).map((hit) => hit?.value);
  }

  /** Reads these ids from Meta now, whatever is cached, and stores the answers: each id's result. */
  async refresh(igsids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, 'ok' | GatewayErrorCode>> {
    const { results: fetched, stored } = await this.fetchAndStore(igsids, fields);
    await stored;
    return new Map([...fetched].map(([igsid, result]) => [igsid, result.ok ? 'ok' : result.failure.code]));
  }

  /** Stale-while-revalidate: refresh in the background, once per id at a time. */
  private revalidate(ids: readonly string[], fields: readonly GraphField[]): void {
    const fresh = ids.filter((igsid) => !this.revalidating.has(igsid));
    if (!fresh.length) return;
    for (const igsid of fresh) this.revalidating.add(igsid);
    void this.fetchAndStore(fresh, fields)
      .then(({ stored }) => stored)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'background revalidation failed'))
      .finally(() => {
        for (const igsid of fresh) this.revalidating.delete(igsid);
      });
  }
}

type FetchResult = { ok: true; entry: CacheEntry; invalid?: GraphField[] } | { ok: false; failure: UpstreamFailure };
