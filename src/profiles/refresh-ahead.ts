import type { Clock, ClockTimer } from '../clock.js';
import type { GatewayErrorCode } from '../graph/outcomes.js';
import { backgroundTrace } from '../telemetry-background.js';
import type { Contact, ContactLog } from './contacts.js';
import type { GraphProfile } from '../graph/profile.js';
import { freshUntil, profileFrom, type CacheEntry, type FreshnessPolicy } from './entry.js';
import { MAX_IDS_PER_ROUND_TRIP } from './source.js';

export type RefreshSkipReason = 'usage' | 'paused' | 'busy' | 'tick_limit' | 'other_replica';

/** Told after each group: the profiles just re-read (name, username, picture), and whether headroom is gone. */
export type RefreshedListener = (profiles: GraphProfile[], heldBack: 'paused' | 'usage' | undefined) => void;

/** The latest usage percentage Meta reported for an account, and when (epoch ms). */
export interface LatestUsage {
  percent: number;
  atMs: number;
}

/** What refresh-ahead needs of one account. */
export interface RefreshAheadAccount {
  contacts: Pick<ContactLog, 'page'>;
  /** The cached entries of these ids, in order (undefined: nothing cached). */
  entries(igsids: readonly string[]): Promise<Array<CacheEntry | undefined>>;
  /** Reads these ids from Meta now and stores the answers; each id's result. Never rejects for an upstream problem. */
  refresh(igsids: readonly string[]): Promise<Map<string, 'ok' | GatewayErrorCode>>;
  /** Seconds left of the account's pause; 0 when calls may go out. */
  pausedSeconds(): number;
  latestUsage(): LatestUsage | undefined;
  /** True while every upstream slot of the account is taken: lookups may be waiting for one. */
  busy(): boolean;
  /**
   * With replicas: claims these ids for this replica (true per id it may refresh; undefined when
   * the claim could not be made: refresh alone), and gives back claims it will not use.
   */
  leases?: {
    claim(igsids: readonly string[]): Promise<boolean[] | undefined>;
    release(igsids: readonly string[]): Promise<void>;
  };
}

export interface RefreshAheadOptions {
  /** REFRESH_AHEAD_ACTIVE_SECONDS (ms): contacts who interacted more recently are refreshed. */
  activeMs: number;
  maxUsagePercent: number;
  /** Active contacts examined per tick, most recent first. */
  scanLimit: number;
  /** Profiles refreshed per tick. */
  maxIdsPerTick: number;
  policy: FreshnessPolicy;
  clock: Clock;
  onRead(result: 'ok' | GatewayErrorCode, count: number): void;
  /** One group sent (ids per trip = reads / groups). */
  onGroup(ids: number): void;
  onSkipped(reason: RefreshSkipReason, count: number): void;
  onError(error: unknown): void;
}

/** A usage figure older than this no longer holds refresh-ahead back: the next group brings a new one. */
export const USAGE_FIGURE_MAX_AGE_MS = 10 * 60_000;
const SCAN_PAGE = 500;
const PICTURE_FIELDS = ['name', 'username', 'profile_pic'] as const;

/** How early before its freshness ends a profile is refreshed, and how often an account is examined. */
export function refreshTiming(ttlMs: number): { leadMs: number; intervalMs: number } {
  const leadMs = Math.min(Math.round(ttlMs / 5), 60_000);
  return { leadMs, intervalMs: Math.max(100, Math.round(leadMs / 4)) };
}

/**
 * One account's refresh-ahead: every tick, the active contacts (most recent first, at most
 * `scanLimit`) whose cached profile stops being fresh within the lead time are re-read, the soonest
 * first, in groups of ≤50, one group in flight — background work never holds more than one of the
 * account's upstream slots and none while lookups hold them all, and stops while the account is
 * paused or its usage is at the limit (what was due is counted as skipped and seen again next tick). A
 * failed read is tried again after the lead time, not every tick.
 * Contacts with nothing cached, or a remembered refusal, are left to lookups.
 * With several replicas, the due ids are claimed first (`leases`): an id another replica claimed is
 * skipped, so each refresh is done once.
 */
export class RefreshAhead {
  private readonly leadMs: number;
  private readonly intervalMs: number;
  private timer: ClockTimer | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Ids whose last refresh failed → when they may be tried again (at most `scanLimit` remembered). */
  private readonly failed = new Map<string, number>();
  /** Set by the app: pictures are warmed from here (profiles/ knows nothing of avatars). */
  onRefreshed: RefreshedListener | undefined;

  constructor(
    private readonly account: RefreshAheadAccount,
    private readonly options: RefreshAheadOptions,
  ) {
    ({ leadMs: this.leadMs, intervalMs: this.intervalMs } = refreshTiming(options.policy.ttlMs));
  }

  start(): void {
    if (this.closed || this.timer) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((error: unknown) => this.options.onError(error))
        .finally(() => {
          this.running = undefined;
          this.start();
        });
    }, this.intervalMs);
    this.timer.unref?.();
  }

  /** Stops ticking; resolves when the group in flight is done. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: find what is due, refresh it while there is headroom. */
  async tick(): Promise<void> {
    const due = await this.due();
    const first = due.slice(0, this.options.maxIdsPerTick);
    if (due.length > first.length) this.options.onSkipped('tick_limit', due.length - first.length);
    // Nothing is claimed while nothing may go out (a pause lasts many ticks).
    const { ids: taken, claimed } = this.closed || this.heldBack() ? { ids: first, claimed: false } : await this.claim(first);
    for (let i = 0; i < taken.length; i += MAX_IDS_PER_ROUND_TRIP) {
      const held = this.closed ? undefined : this.heldBack();
      if (this.closed || held) {
        if (held) this.options.onSkipped(held, taken.length - i);
        if (claimed) await this.account.leases?.release(taken.slice(i));
        return;
      }
      const group = taken.slice(i, i + MAX_IDS_PER_ROUND_TRIP);
      this.options.onGroup(group.length);
      const results = await backgroundTrace('refresh_ahead.read', { 'instagram.ids.count': group.length }, () => this.account.refresh(group));
      const counts = new Map<'ok' | GatewayErrorCode, number>();
      for (const [igsid, result] of results) {
        counts.set(result, (counts.get(result) ?? 0) + 1);
        if (result !== 'ok' && this.failed.size < this.options.scanLimit) this.failed.set(igsid, this.options.clock.now() + this.leadMs);
      }
      for (const [result, count] of counts) this.options.onRead(result, count);
      await this.tell(group.filter((igsid) => results.get(igsid) === 'ok'));
    }
  }

  /** Hands the profiles just stored to `onRefreshed` (read back from the cache, no upstream call). */
  private async tell(igsids: string[]): Promise<void> {
    if (!this.onRefreshed || !igsids.length) return;
    const entries = await this.account.entries(igsids);
    const profiles = igsids.flatMap((igsid, i) => {
      const entry = entries[i];
      return entry && !entry.negative ? [profileFrom(entry, igsid, PICTURE_FIELDS)] : [];
    });
    const held = this.heldBack();
    this.onRefreshed(profiles, held === 'busy' ? undefined : held);
  }

  /** The ids this replica refreshes: all of them alone or when Redis does not answer; else those it claimed. */
  private async claim(igsids: string[]): Promise<{ ids: string[]; claimed: boolean }> {
    const claims = this.account.leases && igsids.length ? await this.account.leases.claim(igsids) : undefined;
    if (!claims) return { ids: igsids, claimed: false };
    const mine = igsids.filter((_, i) => claims[i]);
    if (mine.length < igsids.length) this.options.onSkipped('other_replica', igsids.length - mine.length);
    return { ids: mine, claimed: true };
  }

  private heldBack(): 'paused' | 'busy' | 'usage' | undefined {
    if (this.account.pausedSeconds() > 0) return 'paused';
    if (this.account.busy()) return 'busy';
    const usage = this.account.latestUsage();
    const recent = usage && this.options.clock.now() - usage.atMs < USAGE_FIGURE_MAX_AGE_MS;
    return recent && usage.percent >= this.options.maxUsagePercent ? 'usage' : undefined;
  }

  /**
   * False for an entry with nothing in it, or read within the last half TTL: a picture URL that
   * expires sooner than the lead time after every read is then refreshed at most twice per TTL.
   */
  private refreshedBefore(entry: CacheEntry, now: number): boolean {
    const times = Object.values(entry.fields).map((field) => field.at);
    return times.length > 0 && now - Math.max(...times) >= this.options.policy.ttlMs / 2;
  }

  /** Active contacts whose cached profile needs refreshing by the next tick, soonest first. */
  private async due(): Promise<string[]> {
    const now = this.options.clock.now();
    const oldest = now - this.options.activeMs;
    for (const [igsid, retryAt] of this.failed) if (retryAt <= now) this.failed.delete(igsid);
    const due: Array<{ igsid: string; until: number }> = [];
    let after: Contact | undefined;
    for (let scanned = 0; scanned < this.options.scanLimit; ) {
      const want = Math.min(SCAN_PAGE, this.options.scanLimit - scanned);
      const page = await this.account.contacts.page(after, want);
      const active = page.filter((contact) => contact.atMs >= oldest);
      scanned += page.length;
      const entries = active.length ? await this.account.entries(active.map((contact) => contact.igsid)) : [];
      active.forEach(({ igsid }, i) => {
        const entry = entries[i];
        if (!entry || entry.negative || this.failed.has(igsid) || !this.refreshedBefore(entry, now)) return;
        const until = freshUntil(entry, [], this.options.policy);
        if (until - now <= this.leadMs) due.push({ igsid, until });
      });
      if (page.length < want || active.length < page.length) break;
      after = page[page.length - 1];
    }
    return due.sort((a, b) => a.until - b.until).map((item) => item.igsid);
  }
}
