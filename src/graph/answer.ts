import { z } from 'zod';
import { GRAPH_FIELDS, type GraphField, type GraphProfile } from './profile.js';
import { classifyGraphError, graphErrorOf } from './errors.js';
import { malformedFailure, mismatchFailure, type ProfileOutcome } from './outcomes.js';
import type { UsageReport } from './usage.js';

/** Names and usernames are ≤ 30 characters on Instagram; far longer is not a profile field. */
const MAX_TEXT = 1000;
const MAX_URL = 4096;
/** Meta's CDN links expire within days; an `oe=` further out than this is not a real expiry. */
const MAX_PIC_EXPIRY_MS = 366 * 86_400_000;

const text = z.string().max(MAX_TEXT).nullable();
const flag = z.boolean().nullable();

/** Built once: constructing zod schemas costs far more than parsing with them (per id, it dominated P1). */
const FIELD_SCHEMAS: Record<GraphField, z.ZodType> = {
  name: text,
  username: text,
  profile_pic: z.string().max(MAX_URL).nullable(),
  follower_count: z.number().int().min(0).nullable(),
  is_user_follow_business: flag,
  is_business_follow_user: flag,
  is_verified_user: flag,
};

/** An https URL whose `oe=` (hex epoch seconds), if present, is a plausible expiry. */
function picUrlIsSane(value: string, now: number): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const oe = url.searchParams.get('oe');
  if (oe === null) return true;
  return /^[0-9a-f]{1,12}$/i.test(oe) && parseInt(oe, 16) * 1000 <= now + MAX_PIC_EXPIRY_MS;
}

const profileObject = z.record(z.string(), z.unknown());

/**
 * Reads one object answer (a single GET, a Batch API element, or one entry of a `?ids=` map) into
 * an outcome. A 2xx answer must be an object whose `id`, when present, is the id asked; each known
 * field is checked on its own, and a wrong-typed one is left out and listed in `invalid`.
 */
export function outcomeOf(status: number, usage: UsageReport, body: unknown, igsid: string, now: number): ProfileOutcome {
  const error = graphErrorOf(body);
  if (status < 200 || status >= 300 || error || body === null || body === undefined) {
    return { ok: false, failure: classifyGraphError(status, error, usage.waitSeconds, igsid) };
  }
  const parsed = profileObject.safeParse(body);
  if (!parsed.success || Array.isArray(body)) return { ok: false, failure: malformedFailure() };
  const answer = parsed.data;
  if (answer['id'] !== undefined && String(answer['id']) !== igsid) return { ok: false, failure: mismatchFailure() };

  const profile: GraphProfile = { id: igsid, fetchedAt: now };
  const invalid: GraphField[] = [];
  for (const field of GRAPH_FIELDS) {
    if (!(field in answer)) continue;
    const value = FIELD_SCHEMAS[field].safeParse(answer[field]);
    const sane = value.success && (field !== 'profile_pic' || value.data === null || picUrlIsSane(value.data as string, now));
    if (sane) Object.assign(profile, { [field]: value.data });
    else invalid.push(field);
  }
  return invalid.length ? { ok: true, profile, invalid } : { ok: true, profile };
}
