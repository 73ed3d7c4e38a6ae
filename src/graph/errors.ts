import { z } from 'zod';
import { graphFailure, type GatewayErrorCode, type GraphErrorFacts, type UpstreamFailure } from './outcomes.js';

/** What Meta said, in the shape Graph uses: `{"error": {...}}`. Strings are clipped as they are read. */
export interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  fbtrace_id?: string;
}

/** Longest string taken from Meta into an answer or a log line. */
export const MAX_UPSTREAM_STRING = 200;

export function clip(value: string, max = MAX_UPSTREAM_STRING): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

const text = z.string().transform((value) => clip(value, 1000)).optional().catch(undefined);
const whole = z.number().int().optional().catch(undefined);
const errorSchema = z.object({
  message: text,
  type: text,
  code: whole,
  error_subcode: whole,
  is_transient: z.boolean().optional().catch(undefined),
  fbtrace_id: text,
});
const errorEnvelope = z.object({ error: errorSchema });

const THROTTLE_CODES: ReadonlySet<number> = new Set([4, 17, 32, 341, 613]);
const TOKEN_CODES: ReadonlySet<number> = new Set([190, 102, 2500]);
const IDS_REMOVED = /ids query parameter is deprecated/i;
const CONSENT_TEXT = /user consent is required/i;
const ALIAS_MISSING = /some of the aliases you requested do not exist/i;
const APPSECRET_PROOF = /appsecret_proof/i;

/** Legacy `?ids=` answered with Meta's 2026 removal notice: never retry it. */
export function isIdsRemoval(error: GraphErrorBody | undefined): boolean {
  return error?.code === 100 && IDS_REMOVED.test(error.message ?? '');
}

export function graphErrorOf(body: unknown): GraphErrorBody | undefined {
  // Most answers are profiles: no `error` key, nothing for zod to fail on (a failing parse is costly).
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const parsed = errorEnvelope.safeParse(body);
  if (!parsed.success) return undefined;
  return Object.fromEntries(Object.entries(parsed.data.error).filter(([, value]) => value !== undefined)) as GraphErrorBody;
}

/**
 * The one table from Graph answers to gateway codes. Rows are checked in order; every upstream
 * answer gets a code (never a bare internal error).
 */
export function classifyGraphError(
  status: number,
  error: GraphErrorBody | undefined,
  retryAfterSeconds: number | undefined,
  igsid?: string,
): UpstreamFailure {
  const graph: GraphErrorFacts | undefined = error
    ? {
        code: typeof error.code === 'number' ? error.code : null,
        subcode: typeof error.error_subcode === 'number' ? error.error_subcode : null,
        type: typeof error.type === 'string' ? clip(error.type) : null,
        fbtraceId: typeof error.fbtrace_id === 'string' ? clip(error.fbtrace_id) : null,
      }
    : undefined;
  const code = error?.code;
  const message = error?.message ?? '';
  const who = igsid ? `Instagram user ${igsid}` : 'The Instagram user';
  const fail = (c: GatewayErrorCode, message: string, retryable: boolean, transient = false): UpstreamFailure =>
    graphFailure(c, message, {
      retryable,
      transient,
      retryAfterSeconds: c === 'RATE_LIMITED' || transient ? retryAfterSeconds : undefined,
      graph,
    });

  if (code === 230 || CONSENT_TEXT.test(message)) {
    return fail('CONSENT_REQUIRED', `${who} has not messaged the business yet: Meta requires their consent (a message, icebreaker or menu tap) before the profile can be read.`, false);
  }
  if ((code === 100 && error?.error_subcode === 33) || code === 803 || ALIAS_MISSING.test(message) || code === 9010) {
    return fail('USER_BLOCKED', `${who} cannot be loaded: they blocked the business, deleted their account, or the IGSID belongs to another business (Meta does not say which).`, false);
  }
  if ((code !== undefined && (THROTTLE_CODES.has(code) || (code >= 80001 && code <= 80009))) || (!error && status === 429)) {
    const wait = retryAfterSeconds !== undefined ? ` Meta advertises about ${retryAfterSeconds} s until access returns.` : '';
    return fail('RATE_LIMITED', `Meta is throttling calls for this app or account.${wait}`, true);
  }
  if ((code !== undefined && TOKEN_CODES.has(code)) || (!error && status === 401)) {
    return fail('ACCESS_TOKEN_INVALID', 'The gateway\'s Instagram access token is invalid, expired or revoked: the operator must re-authorise the account.', false);
  }
  if (code === 100 && APPSECRET_PROOF.test(message)) {
    return fail('ACCESS_TOKEN_INVALID', 'Meta rejected the appsecret_proof: the configured app secret does not match the access token\'s app.', false);
  }
  if ((code !== undefined && (code === 10 || (code >= 200 && code <= 299))) || (!error && status === 403)) {
    return fail('PERMISSION_DENIED', 'The access token lacks a permission this call needs (instagram_business_basic / instagram_business_manage_messages).', false);
  }
  if (code === 1 || code === 2 || error?.is_transient === true || status >= 500) {
    return fail('UPSTREAM_UNAVAILABLE', 'Meta\'s Graph API failed temporarily and did not recover within the retries.', true, true);
  }
  return fail('UPSTREAM_ERROR', 'Meta rejected the call; extensions.graph has its error code and trace id.', false);
}
