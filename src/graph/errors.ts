import type { GatewayErrorCode, GraphErrorFacts, UpstreamFailure } from './outcomes.js';

/** What Meta said, in the shape Graph uses: `{"error": {...}}`. */
export interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  fbtrace_id?: string;
}

const THROTTLE_CODES = new Set([4, 17, 32, 341, 613]);
const TOKEN_CODES = new Set([190, 102, 2500]);
const IDS_REMOVED = /ids query parameter is deprecated/i;
const CONSENT_TEXT = /user consent is required/i;
const ALIAS_MISSING = /some of the aliases you requested do not exist/i;
const APPSECRET_PROOF = /appsecret_proof/i;

/** Legacy `?ids=` answered with Meta's 2026 removal notice: never retry it. */
export function isIdsRemoval(error: GraphErrorBody | undefined): boolean {
  return error?.code === 100 && IDS_REMOVED.test(error.message ?? '');
}

export function graphErrorOf(body: unknown): GraphErrorBody | undefined {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (error && typeof error === 'object') return error as GraphErrorBody;
  }
  return undefined;
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
        type: typeof error.type === 'string' ? error.type : null,
        fbtraceId: typeof error.fbtrace_id === 'string' ? error.fbtrace_id : null,
      }
    : undefined;
  const code = error?.code;
  const message = error?.message ?? '';
  const who = igsid ? `Instagram user ${igsid}` : 'The Instagram user';
  const fail = (c: GatewayErrorCode, text: string, retryable: boolean, transient = false): UpstreamFailure => ({
    code: c,
    message: text,
    retryable,
    transient,
    ...(retryAfterSeconds !== undefined && (c === 'RATE_LIMITED' || transient) ? { retryAfterSeconds } : {}),
    ...(graph ? { graph } : {}),
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

/** Usage headers carry the wait Meta advertises; take the longest one found. */
export function retryAfterFrom(headers: Headers): number | undefined {
  let seconds: number | undefined;
  const consider = (value: number) => {
    if (Number.isFinite(value) && value > 0) seconds = Math.max(seconds ?? 0, Math.ceil(value));
  };
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const asNumber = Number(retryAfter);
    if (Number.isFinite(asNumber)) consider(asNumber);
    else consider((Date.parse(retryAfter) - Date.now()) / 1000);
  }
  const buc = parseJsonHeader(headers.get('x-business-use-case-usage'));
  if (buc && typeof buc === 'object') {
    for (const entries of Object.values(buc as Record<string, unknown>)) {
      if (!Array.isArray(entries)) continue;
      for (const entry of entries) {
        const minutes = (entry as { estimated_time_to_regain_access?: unknown })?.estimated_time_to_regain_access;
        if (typeof minutes === 'number') consider(minutes * 60);
      }
    }
  }
  return seconds;
}

export function parseJsonHeader(value: string | null): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
