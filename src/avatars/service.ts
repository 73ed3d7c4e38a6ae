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

type PlaceholderReason = 'no_picture' | 'unreadable' | 'host_refused' | 'cdn_failed' | 'not_image' | 'too_large' | 'busy' | 'error';

export interface AvatarServiceOptions {
  store: AvatarStore;
  cdn: CdnOptions;
  /** `CACHE_KEY_PREFIX`: keys are `<prefix>:<account>:avatar:<igsid>`. */
  keyPrefix: string;
  /** AVATAR_MAX_CONCURRENT_FETCHES */
  maxConcurrent: number;
  /** How long bytes are kept when the CDN URL carries no `oe=` expiry (PROFILE_TTL_SECONDS). */
  fallbackTtlMs: number;
  clock: Clock;
  metrics: AvatarMetrics;
  logger: Logger;
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

  constructor(private readonly options: AvatarServiceOptions) {}

  async get(account: AccountProfiles, igsid: string): Promise<StoredAvatar> {
    const key = `${this.options.keyPrefix}:${account.id}:avatar:${igsid}`;
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
    return { source: 'instagram', contentType, bytes, etag: etagOf(bytes), expiresAt };
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
