import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { GRAPH_FIELDS, type GraphField } from '../../src/graph/profile.js';
import { parseUsage } from '../../src/graph/usage.js';
import { UsageGuard } from '../../src/graph/usage-guard.js';
import type { ProfileOutcome, UpstreamFailure } from '../../src/graph/outcomes.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { createCacheStore } from '../../src/profiles/cache-store.js';
import { ProfileCache } from '../../src/profiles/cache.js';
import { MemoryContactLog } from '../../src/profiles/contacts.js';
import type { FreshnessPolicy } from '../../src/profiles/entry.js';
import { RefreshAhead, USAGE_FIGURE_MAX_AGE_MS, refreshTiming, type LatestUsage, type RefreshSkipReason } from '../../src/profiles/refresh-ahead.js';
import type { ProfileSource } from '../../src/profiles/source.js';
import { ManualClock } from '../support/manual-clock.js';

const TTL = 60_000;
const policy: FreshnessPolicy = { ttlMs: TTL, staleWhileRevalidateMs: 30_000, staleIfErrorMs: 300_000, negativeTtlMs: 10_000, picMarginMs: 5_000 };
const DAY = 86_400_000;
const unavailable: UpstreamFailure = { code: 'UPSTREAM_UNAVAILABLE', message: 'down', retryable: true, transient: true };
const consent: UpstreamFailure = { code: 'CONSENT_REQUIRED', message: 'no consent', retryable: false, transient: false };
const ids = (n: number, start = 0) => Array.from({ length: n }, (_, i) => String(1784140000100000 + start + i));

class FakeUpstream implements ProfileSource {
  calls: string[][] = [];
  refuse = new Set<string>();
  down = false;
  /** Called on each load (a test changes the world while a group is in flight). */
  onLoad: (() => void) | undefined;
  /** `profile_pic` URLs whose CDN expiry (`oe=`) is this many ms after the read; none when undefined. */
  picLifetimeMs: number | undefined;
  constructor(private readonly clock: ManualClock) {}
  async load(group: readonly string[], _fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    this.calls.push([...group]);
    this.onLoad?.();
    return new Map(group.map((id): [string, ProfileOutcome] => [id, this.down ? { ok: false, failure: unavailable } : this.refuse.has(id) ? { ok: false, failure: consent } : { ok: true, profile: { id, name: `n${this.calls.length}`, ...this.pic() } }]));
  }
  private pic() {
    if (this.picLifetimeMs === undefined) return {};
    const oe = Math.floor((this.clock.now() + this.picLifetimeMs) / 1000).toString(16);
    return { profile_pic: `https://scontent.cdninstagram.com/p.jpg?oe=${oe}` };
  }
}

/** Stands in for RefreshLeases: one Redis shared by replicas, leases lapsing on the manual clock; `down`: no answer. */
class FakeLeases {
  readonly held = new Map<string, { owner: string; until: number }>();
  down = false;
  /** Every replica's clock reads the same time (they advance together). */
  clock: ManualClock | undefined;
  private now(): number {
    return this.clock!.now();
  }
  for(owner: string) {
    return {
      claim: async (igsids: readonly string[]) => {
        if (this.down) return undefined;
        return igsids.map((igsid) => {
          const lease = this.held.get(igsid);
          if (lease && lease.until > this.now()) return false;
          this.held.set(igsid, { owner, until: this.now() + refreshTiming(TTL).leadMs });
          return true;
        });
      },
      release: async (igsids: readonly string[]) => {
        for (const igsid of igsids) if (this.held.get(igsid)?.owner === owner) this.held.delete(igsid);
      },
    };
  }
}

async function setup(options: { scanLimit?: number; maxIdsPerTick?: number; leases?: ReturnType<FakeLeases['for']> } = {}) {
  const clock = new ManualClock();
  const metrics = new Metrics();
  const logger = createLogger({ level: 'silent' });
  const store = createCacheStore({ maxEntries: 10_000, redisTimeoutMs: 100, logger, metrics, clock });
  const upstream = new FakeUpstream(clock);
  const cache = new ProfileCache('acct', 'p:acct', store, upstream, policy, metrics, logger, clock);
  const contacts = new MemoryContactLog(90 * DAY, 100_000, clock);
  const skipped: Partial<Record<RefreshSkipReason, number>> = {};
  const reads = { ok: 0, groups: 0 };
  let paused = 0;
  let busy = false;
  let usage: LatestUsage | undefined;
  const refresh = new RefreshAhead(
    {
      contacts,
      entries: (igsids) => cache.entries(igsids),
      refresh: (igsids) => cache.refresh(igsids, GRAPH_FIELDS),
      pausedSeconds: () => paused,
      latestUsage: () => usage,
      busy: () => busy,
      leases: options.leases,
    },
    {
      activeMs: 7 * DAY,
      maxUsagePercent: 50,
      scanLimit: options.scanLimit ?? 2000,
      maxIdsPerTick: options.maxIdsPerTick ?? 500,
      policy,
      clock,
      onRead: (result, count) => void (result === 'ok' && (reads.ok += count)),
      onGroup: () => void (reads.groups += 1),
      onSkipped: (reason, count) => void (skipped[reason] = (skipped[reason] ?? 0) + count),
      onError: (error) => {
        throw error;
      },
    },
  );
  /** Contacts who interacted `daysAgo` days ago, their profiles cached now. */
  const interacted = async (who: string[], daysAgo: number) => {
    await contacts.record(who.map((igsid) => ({ igsid, atMs: clock.now() - daysAgo * DAY })));
    await cache.load(who, GRAPH_FIELDS);
  };
  return {
    clock,
    upstream,
    cache,
    contacts,
    refresh,
    skipped,
    reads,
    interacted,
    pause: (seconds: number) => void (paused = seconds),
    busy: (value: boolean) => void (busy = value),
    usage: (percent: number, atMs = clock.now()) => void (usage = { percent, atMs }),
    /** Ids the upstream was asked for from now on. */
    askedSince: () => {
      const from = upstream.calls.length;
      return () => upstream.calls.slice(from);
    },
  };
}

describe('refresh-ahead of active contacts (manual clock)', () => {
  it('keeps 60 active contacts fresh for two TTLs in groups of ≥25 ids on average; inactive contacts are left alone', async () => {
    const h = await setup();
    const active = ids(60);
    const inactive = ids(20, 1000);
    await h.interacted(active, 1);
    await h.interacted(inactive, 8);
    const asked = h.askedSince();
    h.refresh.start();

    const { intervalMs } = refreshTiming(TTL);
    for (let t = 0; t < 2 * TTL; t += intervalMs) {
      await h.clock.advance(intervalMs);
      // Every lookup of an active contact is answered fresh from the cache, without asking Meta.
      const before = h.upstream.calls.length;
      const answers = await h.cache.load(active, ['name', 'username']);
      expect(h.upstream.calls.length).toBe(before);
      for (const answer of answers.values()) {
        expect(answer.ok && answer.profile.freshUntil! > h.clock.now()).toBe(true);
      }
    }

    const groups = asked();
    const refreshed = groups.flat();
    expect(new Set(refreshed)).toEqual(new Set(active));
    expect(groups.every((group) => group.length <= 50)).toBe(true);
    expect(refreshed.length / groups.length).toBeGreaterThanOrEqual(25);
    expect(h.reads).toEqual({ ok: refreshed.length, groups: groups.length });
    // Two TTLs: each active contact refreshed twice or three times (a refresh lands up to lead + interval early).
    expect(refreshed.length).toBeGreaterThanOrEqual(2 * 60);
    expect(refreshed.length).toBeLessThanOrEqual(3 * 60);

    // Nobody else: the inactive contacts' profiles aged out of freshness untouched.
    const old = await h.cache.entries(inactive);
    expect(old.every((entry) => entry!.fields.name!.at < h.clock.now() - TTL)).toBe(true);
    await h.refresh.close();
  });

  it('sends nothing while the latest usage figure is at or above the limit, during a pause, or while lookups hold every upstream slot; a figure older than 10 minutes no longer holds it back', async () => {
    const h = await setup();
    const active = ids(60);
    await h.interacted(active, 1);
    const asked = h.askedSince();
    h.usage(50);
    await h.clock.advance(TTL - 5_000);
    await h.refresh.tick();
    expect(asked()).toHaveLength(0);
    expect(h.skipped).toEqual({ usage: 60 });

    h.usage(49);
    h.pause(30);
    await h.refresh.tick();
    expect(asked()).toHaveLength(0);
    expect(h.skipped).toEqual({ usage: 60, paused: 60 });

    // Lookups hold every upstream slot of the account: they come first.
    h.pause(0);
    h.busy(true);
    await h.refresh.tick();
    expect(asked()).toHaveLength(0);
    expect(h.skipped).toEqual({ usage: 60, paused: 60, busy: 60 });

    h.busy(false);
    await h.refresh.tick();
    expect(asked().flat()).toHaveLength(60);

    // Usage climbs past the limit: held again, until the figure is too old to trust.
    await h.clock.advance(TTL - 5_000);
    h.usage(80, h.clock.now() - USAGE_FIGURE_MAX_AGE_MS + 1);
    await h.refresh.tick();
    expect(asked().flat()).toHaveLength(60);
    await h.clock.advance(1);
    await h.refresh.tick();
    expect(asked().flat()).toHaveLength(120);
  });

  it('is bounded per tick: at most REFRESH_AHEAD_MAX_IDS_PER_TICK ids (soonest to expire first, the rest counted), and only the REFRESH_AHEAD_SCAN_LIMIT most recent contacts', async () => {
    const h = await setup({ maxIdsPerTick: 60, scanLimit: 100 });
    const first = ids(80);
    await h.interacted(first, 2);
    await h.clock.advance(1_000);
    const later = ids(40, 500);
    await h.interacted(later, 1);
    const asked = h.askedSince();
    await h.clock.advance(TTL - 6_000);
    await h.refresh.tick();
    // 100 scanned (the 40 recent ones, then 60 of the others); all due, 60 refreshed, the ones cached first first.
    const refreshed = asked().flat();
    expect(refreshed).toHaveLength(60);
    expect(refreshed.every((igsid) => first.includes(igsid))).toBe(true);
    expect(h.skipped).toEqual({ tick_limit: 40 });
  });

  it('leaves contacts with nothing cached, or a remembered refusal, to lookups', async () => {
    const h = await setup();
    const cached = ids(10);
    await h.interacted(cached, 1);
    const uncached = ids(10, 100);
    await h.contacts.record(uncached.map((igsid) => ({ igsid, atMs: h.clock.now() })));
    const refused = ids(5, 200);
    h.upstream.refuse = new Set(refused);
    await h.interacted(refused, 0);
    const asked = h.askedSince();
    await h.clock.advance(TTL - 5_000);
    await h.refresh.tick();
    expect(asked().flat().sort()).toEqual(cached);
  });

  it("the usage guard keeps the latest usage figure of every answer, and when it came (what refresh-ahead reads)", async () => {
    const clock = new ManualClock();
    const guard = new UsageGuard({ thresholdPercent: 90, clock, logger: pino({ level: 'silent' }), label: () => 'acct' });
    expect(guard.latestUsage()).toBeUndefined();
    const answer = (percent: number) =>
      guard.observe(200, {}, parseUsage(new Headers({ 'x-app-usage': JSON.stringify({ call_count: percent, total_time: 1, total_cputime: 1 }) }), { now: clock.now(), maxWaitSeconds: 3600 }));
    answer(70);
    await clock.advance(5_000);
    answer(40);
    expect(guard.latestUsage()).toEqual({ percent: 40, atMs: clock.now() });
  });

  it('a picture URL that expires right after every read is refreshed at most twice per TTL, not every tick', async () => {
    const h = await setup();
    // The CDN expiry minus PROFILE_PIC_EXPIRY_MARGIN_SECONDS (5 s here) is always within the lead time (12 s).
    h.upstream.picLifetimeMs = 10_000;
    const active = ids(10);
    await h.interacted(active, 1);
    const asked = h.askedSince();
    h.refresh.start();
    await h.clock.advance(2 * TTL);
    expect(asked().flat().length).toBeLessThanOrEqual(4 * 10);
    expect(asked().flat().length).toBeGreaterThanOrEqual(3 * 10);
    await h.refresh.close();
  });

  it('a failed refresh is tried again after the lead time, not every tick', async () => {
    const h = await setup();
    const active = ids(10);
    await h.interacted(active, 1);
    h.upstream.down = true;
    const asked = h.askedSince();
    h.refresh.start();
    const { leadMs, intervalMs } = refreshTiming(TTL);
    // Due from TTL − lead on; over the next 2 lead times (8 ticks) it is tried 2 or 3 times.
    await h.clock.advance(TTL - leadMs + 2 * leadMs);
    const tries = asked().length;
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(3);
    expect(2 * leadMs / intervalMs).toBe(8);
    h.upstream.down = false;
    await h.clock.advance(leadMs + intervalMs);
    expect(asked().length).toBe(tries + 1);
    await h.refresh.close();
  });

  it('with replicas, an id another replica claimed is skipped (other_replica): two replicas refresh each contact once, not twice', async () => {
    const leases = new FakeLeases();
    const first = await setup({ leases: leases.for('a') });
    const second = await setup({ leases: leases.for('b') });
    // Both replicas see the same contacts due at the same moments (their clocks start and advance together).
    leases.clock = first.clock;
    expect(second.clock.now()).toBe(first.clock.now());
    const active = ids(60);
    await first.interacted(active, 1);
    await second.interacted(active, 1);
    const askedFirst = first.askedSince();
    const askedSecond = second.askedSince();
    first.refresh.start();
    second.refresh.start();
    const { leadMs, intervalMs } = refreshTiming(TTL);
    for (let t = 0; t < TTL - leadMs + intervalMs; t += intervalMs) {
      await first.clock.advance(intervalMs);
      await second.clock.advance(intervalMs);
    }
    const refreshed = [...askedFirst().flat(), ...askedSecond().flat()];
    expect(refreshed.sort()).toEqual([...active].sort());
    expect((first.skipped.other_replica ?? 0) + (second.skipped.other_replica ?? 0)).toBeGreaterThanOrEqual(60);
    await first.refresh.close();
    await second.refresh.close();
  });

  it('with replicas, Redis not answering means refreshing alone; claims a pause holds back are given back', async () => {
    const leases = new FakeLeases();
    const h = await setup({ leases: leases.for('a') });
    leases.clock = h.clock;
    const active = ids(10);
    await h.interacted(active, 1);
    leases.down = true;
    const asked = h.askedSince();
    h.refresh.start();
    const { leadMs, intervalMs } = refreshTiming(TTL);
    await h.clock.advance(TTL - leadMs + intervalMs);
    expect(asked().flat().sort()).toEqual([...active].sort());
    expect(h.skipped.other_replica).toBeUndefined();

    await h.refresh.close();

    // 60 due at once: the account is paused while the first group is in flight; the second group's claims are given back.
    const other = new FakeLeases();
    const p = await setup({ leases: other.for('a') });
    other.clock = p.clock;
    await p.interacted(ids(60, 100), 1);
    p.upstream.onLoad = () => p.pause(60);
    const sent = p.askedSince();
    p.refresh.start();
    await p.clock.advance(TTL - leadMs + intervalMs);
    expect(sent().map((group) => group.length)).toEqual([50]);
    expect(p.skipped.paused).toBeGreaterThanOrEqual(10);
    expect(new Set(other.held.keys())).toEqual(new Set(sent()[0]));
    await p.refresh.close();
  });

  it('tells onRefreshed the profiles of each group it re-read (read back from the cache: no extra upstream call)', async () => {
    const h = await setup();
    const active = ids(3);
    h.upstream.picLifetimeMs = 5 * DAY;
    await h.interacted(active, 1);
    h.upstream.refuse.add(active[2]!);
    const told: Array<{ ids: string[]; pics: boolean; held: string | undefined }> = [];
    h.refresh.onRefreshed = (profiles, held) => told.push({ ids: profiles.map((p) => p.id).sort(), pics: profiles.every((p) => typeof p.profile_pic === 'string'), held });
    const asked = h.askedSince();
    h.refresh.start();
    const { leadMs, intervalMs } = refreshTiming(TTL);
    await h.clock.advance(TTL - leadMs + intervalMs);
    expect(asked()).toHaveLength(1);
    // The refused id is not told; the others come with their new picture URL.
    expect(told).toEqual([{ ids: active.slice(0, 2), pics: true, held: undefined }]);
    await h.refresh.close();
  });
});
