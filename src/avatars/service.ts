import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { AccountProfiles } from '../profiles/account.js';
import { profilePicExpiry } from '../profiles/entry.js';
import type { GraphProfile } from '../graph/profile.js';
import { fetchPicture, type CdnFailure, type CdnOptions } from './cdn.js';
import type { AvatarMetrics } from './metrics.js';
import { initialsOf, placeholderSvg } from './placeholder.js';
import type { AvatarStore, StoredAvatar } from './store.js';

/** How long a placeholder is kept and may be cached by browsers: a new picture shows up soon after. */
export const PLACEHOLDER_TTL_MS = 60_000;
/** Pictures waiting to be warmed, across accounts; more are dropped (and counted), never queued. */
export const WARM_QUEUE_LIMIT = 1000;

/** What became of one picture refresh-ahead asked to warm. */
export type WarmResult = 'fetched' | 'failed' | 'current' | 'not_cached' | 'busy' | 'dropped' | 'paused' | 'usage';

type PlaceholderReason = 'no_picture' | 'unreadable' | 'host_refused' | 'cdn_failed' | 'not_image' | 'too_large' | 'busy' | 'error';

/** With replicas: a picture warmed here is announced, so the others drop their memory copy and read Redis. */
export interface AvatarReplicas {
  changed(account: string, igsids: readonly string[]): Promise<void>;
  onChanged(listener: (account: string, igsids: readonly string[]) => void): void;
}

export interface AvatarServiceOptions {
  store: AvatarStore;
  cdn: CdnOptions;
  /** `CACHE_KEY_PREFIX`: keys are `<prefix>:<account>:avatar:<igsid>`. */
  keyPrefix: string;
  /** AVATAR_MAX_CONCURRENT_FETCHES */
  maxConcurrent: number;
  /** AVATAR_WARM_CONCURRENCY: background fetches at once (counted within `maxConcurrent`); 0: no warming. */
  warmConcurrency: number;
  /** PROFILE_TTL_SECONDS: a warmed picture must outlive the next refresh of its profile. */
  refreshHorizonMs: number;
  /** How long bytes are kept when the CDN URL carries no `oe=` expiry (PROFILE_TTL_SECONDS). */
  fallbackTtlMs: number;
  clock: Clock;
  metrics: AvatarMetrics;
  logger: Logger;
  replicas?: AvatarReplicas | undefined;
}

const PROFILE_FIELDS = ['name', 'profile_pic', 'username'] as const;

/**
 * A person's picture: from the avatar cache, else their current `profile_pic` (profile cache, or
 * Meta through the batcher) fetched from the CDN once however many requests wait for it. A URL
 * the CDN refuses (403/404) makes the profile be read again, once. Anything else that goes wrong
 * ends in a placeholder, never an error.
 */
export class AvatarService {
  private readonly inFlight = new Map<string, Promise<StoredAvatar>>();
  private readonly warmQueue = new Map<string, { account: AccountProfiles; profile: GraphProfile }>();
  /** Warm fetches running now (at most `warmConcurrency`). */
  private readonly warming = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: AvatarServiceOptions) {
    options.replicas?.onChanged((account, igsids) => options.store.forgetMemory(igsids.map((igsid) => this.keyOf(account, igsid))));
  }

  /**
   * Refresh-ahead just re-read these profiles: a cached picture whose URL changed, or whose bytes
   * expire before the next refresh, is fetched again in the background (no Meta call), so the next
   * `/avatars` request is a cache hit. Pictures nobody asked for are not fetched.
   */
  warm(account: AccountProfiles, profiles: readonly GraphProfile[], heldBack: 'paused' | 'usage' | undefined): void {
    if (this.closed || this.options.warmConcurrency === 0 || !profiles.length) return;
    if (heldBack) return this.counted(account.id, heldBack, profiles.length);
    for (const profile of profiles) {
      if (this.warmQueue.size >= WARM_QUEUE_LIMIT) this.counted(account.id, 'dropped');
      else this.warmQueue.set(this.keyOf(account.id, profile.id), { account, profile });
    }
    this.pump();
  }

  /** Stops warming: the queue is dropped, the fetches running are awaited (each bounded by AVATAR_FETCH_TIMEOUT_MS). */
  async close(): Promise<void> {
    this.closed = true;
    this.warmQueue.clear();
    await Promise.all(this.warming);
  }

  private pump(): void {
    for (const [key, job] of this.warmQueue) {
      if (this.closed || this.warming.size >= this.options.warmConcurrency) return;
      this.warmQueue.delete(key);
      const running: Promise<void> = this.warmOne(key, job.account, job.profile)
        .then((result) => this.counted(job.account.id, result))
        .catch((error: unknown) => this.options.logger.warn({ err: error, igsid: job.profile.id }, 'avatar: warming failed'))
        .finally(() => {
          this.warming.delete(running);
          this.pump();
        });
      this.warming.add(running);
    }
  }

  private async warmOne(key: string, account: AccountProfiles, profile: GraphProfile): Promise<WarmResult> {
    if (this.inFlight.has(key)) return 'current';
    const stored = await this.options.store.get(key);
    if (!stored) return 'not_cached';
    const url = typeof profile.profile_pic === 'string' && profile.profile_pic ? profile.profile_pic : undefined;
    const now = this.options.clock.now();
    const changed = stored.picture !== (url && pictureDigest(url));
    const renewable = stored.expiresAt <= now + this.options.refreshHorizonMs && this.expiryOf(url) > stored.expiresAt;
    if (!changed && !renewable) return 'current';
    // Re-checked after the read: an interactive request may have started this fetch meanwhile.
    if (this.inFlight.has(key)) return 'current';
    if (this.inFlight.size >= this.options.maxConcurrent) return 'busy';
    const work = this.fetchAhead(account.id, profile, stored)
      .then(async (fetched) => {
        if (fetched.ok) {
          await this.options.store.set(key, fetched.avatar);
          await this.options.replicas?.changed(account.id, [profile.id]);
        }
        return fetched;
      })
      .finally(() => this.inFlight.delete(key));
    // Requests arriving meanwhile join this fetch (the single-flight), they do not start their own.
    this.inFlight.set(
      key,
      work.then(
        (fetched) => fetched.avatar,
        () => this.placeholder(account.id, profile.id, profile, 'error'),
      ),
    );
    return (await work).ok ? 'fetched' : 'failed';
  }

  /** The new picture (or the placeholder when the person removed theirs); on failure, what was cached stays. */
  private async fetchAhead(account: string, profile: GraphProfile, stored: StoredAvatar): Promise<{ avatar: StoredAvatar; ok: boolean }> {
    const fetched = await this.fetch(account, profile);
    if (fetched.ok) return { avatar: this.picture(fetched.bytes, fetched.contentType, profile.profile_pic), ok: true };
    if (fetched.failure === 'no_picture') return { avatar: this.placeholder(account, profile.id, profile, 'no_picture'), ok: true };
    // A request that joined this fetch gets the cached answer while it lasts (it then fetches itself).
    return { avatar: stored.expiresAt > this.options.clock.now() ? stored : this.placeholder(account, profile.id, profile, fetched.failure), ok: false };
  }

  private expiryOf(url: string | undefined): number {
    return url ? (profilePicExpiry(url) ?? this.options.clock.now() + this.options.fallbackTtlMs) : 0;
  }

  private counted(account: string, result: WarmResult, count = 1): void {
    this.options.metrics.warms.inc({ account, result }, count);
  }

  private keyOf(account: string, igsid: string): string {
    return `${this.options.keyPrefix}:${account}:avatar:${igsid}`;
  }

  async get(account: AccountProfiles, igsid: string): Promise<StoredAvatar> {
    const key = this.keyOf(account.id, igsid);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const cached = await this.options.store.get(key);
    this.options.metrics.lookups.inc({ account: account.id, result: cached ? 'hit' : 'miss' });
    if (cached) return cached;
    // The cache read yielded: another request may have started the fetch meanwhile.
    const joined = this.inFlight.get(key);
    if (joined) return joined;
    if (this.inFlight.size >= this.options.maxConcurrent) return this.placeholder(account.id, igsid, undefined, 'busy');
    const work = this.resolve(account, igsid, key)
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error, igsid }, 'avatar: unexpected failure, answering the placeholder');
        return this.placeholder(account.id, igsid, undefined, 'error');
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
    return work;
  }

  private async resolve(account: AccountProfiles, igsid: string, key: string): Promise<StoredAvatar> {
    let profile = await this.profileOf(account, igsid);
    let fetched = await this.fetch(account.id, profile);
    if (!fetched.ok && (fetched.failure === 'forbidden' || fetched.failure === 'not_found')) {
      // Meta's URL died before its oe= expiry: drop the cached profile and read a fresh URL, once.
      await account.forget([igsid]);
      profile = await this.profileOf(account, igsid);
      fetched = await this.fetch(account.id, profile);
    }
    const avatar = fetched.ok
      ? this.picture(fetched.bytes, fetched.contentType, profile?.profile_pic)
      : this.placeholder(account.id, igsid, profile, fetched.failure);
    await this.options.store.set(key, avatar);
    return avatar;
  }

  private async profileOf(account: AccountProfiles, igsid: string): Promise<GraphProfile | undefined> {
    try {
      const outcome = (await account.source.load([igsid], PROFILE_FIELDS)).get(igsid);
      return outcome?.ok ? outcome.profile : undefined;
    } catch (error) {
      this.options.logger.warn({ err: error, igsid }, 'avatar: profile read failed');
      return undefined;
    }
  }

  private async fetch(account: string, profile: GraphProfile | undefined) {
    if (!profile) return { ok: false, failure: 'unreadable' } as const;
    if (typeof profile.profile_pic !== 'string' || !profile.profile_pic) return { ok: false, failure: 'no_picture' } as const;
    const outcome = await fetchPicture(profile.profile_pic, this.options.cdn);
    this.options.metrics.cdnFetches.inc({ account, outcome: outcome.ok ? 'ok' : outcome.failure });
    if (!outcome.ok && outcome.failure === 'host_refused') this.options.logger.warn({ host: hostOf(profile.profile_pic) }, 'avatar: profile_pic is not on an allowed host (AVATAR_ALLOWED_HOSTS)');
    return outcome;
  }

  private picture(bytes: Buffer, contentType: string, url: string | null | undefined): StoredAvatar {
    const now = this.options.clock.now();
    const expiresAt = profilePicExpiry(url) ?? now + this.options.fallbackTtlMs;
    return { source: 'instagram', contentType, bytes, etag: etagOf(bytes), expiresAt, ...(url ? { picture: pictureDigest(url) } : {}) };
  }

  private placeholder(account: string, igsid: string, profile: GraphProfile | undefined, failure: CdnFailure | PlaceholderReason): StoredAvatar {
    const reason = placeholderReason(failure);
    this.options.metrics.placeholders.inc({ account, reason });
    const bytes = placeholderSvg(igsid, initialsOf(profile?.name, profile?.username));
    // Busy and error answers are never kept: the next request tries for the real picture.
    const ttl = reason === 'busy' || reason === 'error' ? 0 : PLACEHOLDER_TTL_MS;
    return { source: 'placeholder', contentType: 'image/svg+xml', bytes, etag: etagOf(bytes), expiresAt: this.options.clock.now() + ttl };
  }
}

function placeholderReason(failure: CdnFailure | PlaceholderReason): PlaceholderReason {
  switch (failure) {
    case 'redirect_refused':
      return 'host_refused';
    case 'forbidden':
    case 'not_found':
    case 'http_error':
    case 'network_error':
    case 'timeout':
      return 'cdn_failed';
    default:
      return failure;
  }
}

/** Which `profile_pic` URL cached bytes came from (a digest: the URL itself need not be kept). */
function pictureDigest(url: string): string {
  return createHash('sha256').update(url).digest('base64url').slice(0, 22);
}

function etagOf(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host.slice(0, 100);
  } catch {
    return 'invalid URL';
  }
}
