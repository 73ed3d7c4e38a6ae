import { z } from 'zod';

/** Usage figures Meta names in `X-App-Usage` / `X-Business-Use-Case-Usage` (Graph and Instagram spellings). */
export const USAGE_KEYS = ['call_count', 'total_cputime', 'total_time', 'call_volume', 'cpu_time'] as const;
export type UsageKey = (typeof USAGE_KEYS)[number];

/** Meta's usage headers, parsed once per answer; every consumer (guard, metrics, error table) reads this. */
export interface UsageReport {
  /** Known `X-App-Usage` figures (percent). */
  app: Partial<Record<UsageKey, number>>;
  /** Known `X-Business-Use-Case-Usage` figures per business id (percent). */
  business: Array<{ businessId: string; figures: Partial<Record<UsageKey, number>> }>;
  /** Highest figure of either header. */
  percent: number | undefined;
  /** Longest wait Meta advertises (Retry-After, BUC `estimated_time_to_regain_access`), clamped. */
  waitSeconds: number | undefined;
  /** The advertised wait before clamping, when it was longer than the cap. */
  clampedFromSeconds?: number;
}

const percent = z.number().finite().min(0);
const figures = z.record(z.string(), z.unknown());
const bucHeader = z.record(z.string(), z.array(z.unknown()));
const BUSINESS_ID = /^\d{1,30}$/;
/** Usage headers are a few hundred bytes; anything far longer is not worth parsing. */
const MAX_HEADER_CHARS = 16_384;

export interface UsageParseOptions {
  /** Epoch ms, for an HTTP-date `Retry-After`. */
  now: number;
  /** MAX_UPSTREAM_PAUSE_SECONDS: no advertised wait is taken longer than this. */
  maxWaitSeconds: number;
}

/** What parseUsage reads: a fetch `Headers`, or the few headers of a Batch API element. */
export type HeaderReader = Pick<Headers, 'get'>;
/** The only headers parseUsage reads (lower case). */
export const USAGE_HEADERS: ReadonlySet<string> = new Set(['x-app-usage', 'x-business-use-case-usage', 'retry-after']);

export function parseUsage(headers: HeaderReader, options: UsageParseOptions): UsageReport {
  let top: number | undefined;
  let wait: number | undefined;
  const considerWait = (seconds: number) => {
    if (Number.isFinite(seconds) && seconds > 0) wait = Math.max(wait ?? 0, Math.ceil(seconds));
  };
  const known = (value: unknown): Partial<Record<UsageKey, number>> => {
    const out: Partial<Record<UsageKey, number>> = {};
    // Most answers carry no usage header: skip zod's (costly) failing parse.
    if (value === undefined) return out;
    const parsed = figures.safeParse(value);
    if (!parsed.success) return out;
    for (const key of USAGE_KEYS) {
      const figure = percent.safeParse(parsed.data[key]);
      if (figure.success) {
        out[key] = figure.data;
        top = Math.max(top ?? 0, figure.data);
      }
    }
    const eta = percent.safeParse(parsed.data['estimated_time_to_regain_access']);
    if (eta.success) considerWait(eta.data * 60);
    return out;
  };

  const app = known(jsonHeader(headers.get('x-app-usage')));
  const business: UsageReport['business'] = [];
  const bucJson = jsonHeader(headers.get('x-business-use-case-usage'));
  const buc = bucJson === undefined ? undefined : bucHeader.safeParse(bucJson);
  if (buc?.success) {
    for (const [businessId, entries] of Object.entries(buc.data)) {
      for (const entry of entries) {
        const entryFigures = known(entry);
        if (BUSINESS_ID.test(businessId)) business.push({ businessId, figures: entryFigures });
      }
    }
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const asNumber = Number(retryAfter);
    considerWait(Number.isFinite(asNumber) ? asNumber : (Date.parse(retryAfter) - options.now) / 1000);
  }
  const report: UsageReport = { app, business, percent: top, waitSeconds: wait };
  if (wait !== undefined && wait > options.maxWaitSeconds) {
    report.waitSeconds = options.maxWaitSeconds;
    report.clampedFromSeconds = wait;
  }
  return report;
}

function jsonHeader(value: string | null): unknown {
  if (!value || value.length > MAX_HEADER_CHARS) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
