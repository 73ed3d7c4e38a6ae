// Graph-style error answers. Every message, code and type here is what Meta sends (or, where Meta
// is silent, the closest documented behaviour; see README.md), so the client is tested against
// the real vocabulary rather than against our own.
import { randomBytes } from 'node:crypto';

export type GraphErrorType = 'OAuthException' | 'GraphMethodException' | 'IGApiException';

export interface GraphErrorBody {
  message: string;
  type: GraphErrorType;
  code: number;
  error_subcode?: number;
  is_transient: boolean;
  error_user_title?: string;
  error_user_msg?: string;
  fbtrace_id: string;
}

/** What a request (or one Batch API sub-request) answers before it is put on the wire. */
export interface SimAnswer {
  status: number;
  /** A JSON value, or a raw string sent as-is (non-JSON errors such as a proxy's HTML page). */
  body: unknown;
  raw?: boolean;
  /** Extra headers (throttling: usage with a wait, Retry-After). */
  headers?: Record<string, string>;
  /** Present when the answer is throttling: overrides the usage numbers in the headers. */
  throttle?: { appCallCount?: number; businessCallCount?: number; etaMinutes: number };
  /** Extra delay (the `slow` scenario). */
  delayMs?: number;
  /** Batch API only: this element is `null`. */
  batchNull?: boolean;
}

/** Meta's trace ids look like `AbC1dEfGh2iJkLmN3oPq4rS`: base64url, about 23 chars. */
export function traceId(): string {
  return randomBytes(17).toString('base64url').slice(0, 23);
}

export function graphError(
  status: number,
  fields: { message: string; type: GraphErrorType; code: number; error_subcode?: number; is_transient?: boolean; error_user_title?: string; error_user_msg?: string },
): SimAnswer {
  const error: GraphErrorBody = {
    message: fields.message,
    type: fields.type,
    code: fields.code,
    ...(fields.error_subcode !== undefined ? { error_subcode: fields.error_subcode } : {}),
    is_transient: fields.is_transient ?? false,
    ...(fields.error_user_title !== undefined ? { error_user_title: fields.error_user_title } : {}),
    ...(fields.error_user_msg !== undefined ? { error_user_msg: fields.error_user_msg } : {}),
    fbtrace_id: traceId(),
  };
  return { status, body: { error } };
}

const GRAPH_DOCS = 'Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api';

export const errors = {
  noToken: () =>
    graphError(400, { message: 'An active access token must be used to query information about the current user.', type: 'OAuthException', code: 2500 }),
  unknownToken: () => graphError(400, { message: 'Invalid OAuth access token - Cannot parse access token', type: 'OAuthException', code: 190 }),
  proofMissing: () => graphError(400, { message: 'API calls from the server require an appsecret_proof argument', type: 'GraphMethodException', code: 100 }),
  proofInvalid: () => graphError(400, { message: 'Invalid appsecret_proof provided in the API argument', type: 'GraphMethodException', code: 100 }),

  /** What a blocked, deleted or foreign IGSID (and any non-IGSID object id) looks like. */
  unsupportedGet: (id: string) =>
    graphError(400, {
      message: `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. ${GRAPH_DOCS}`,
      type: 'GraphMethodException',
      code: 100,
      error_subcode: 33,
    }),
  unsupportedGetBare: () => graphError(400, { message: 'Unsupported get request.', type: 'GraphMethodException', code: 100 }),
  unsupportedPost: (id?: string) =>
    id
      ? graphError(400, {
          message: `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. ${GRAPH_DOCS}`,
          type: 'GraphMethodException',
          code: 100,
          error_subcode: 33,
        })
      : graphError(400, { message: 'Unsupported post request.', type: 'GraphMethodException', code: 100 }),
  unsupportedMethod: (method: string) => graphError(400, { message: `Unsupported ${method.toLowerCase()} request.`, type: 'GraphMethodException', code: 100 }),
  unknownPath: (path: string) => graphError(404, { message: `Unknown path components: ${path}`, type: 'OAuthException', code: 2500 }),
  nonexistingField: (field: string, nodeType = 'User') =>
    graphError(400, { message: `(#100) Tried accessing nonexisting field (${field}) on node type (${nodeType})`, type: 'OAuthException', code: 100 }),

  consent: () => graphError(400, { message: 'User consent is required to access user profile', type: 'IGApiException', code: 230 }),
  /** Meta's Messenger-platform answer for an IGSID this business does not know (GRAPH-API-FACTS.md). */
  unknownUser: () => graphError(400, { message: 'No matching user found', type: 'IGApiException', code: 9010 }),
  /** Meta does send code 4 with is_transient: true; the client must still wait, not retry at once. */
  appRateLimited: () => graphError(400, { message: '(#4) Application request limit reached', type: 'OAuthException', code: 4, is_transient: true }),
  businessRateLimited: () =>
    graphError(400, {
      message: '(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.',
      type: 'OAuthException',
      code: 80002,
      is_transient: true,
    }),
  tokenInvalid: (subcode: number) => graphError(400, { message: TOKEN_MESSAGES[subcode] ?? TOKEN_MESSAGES[460]!, type: 'OAuthException', code: 190, error_subcode: subcode }),
  permission: () => graphError(403, { message: '(#10) Application does not have permission for this action', type: 'OAuthException', code: 10 }),
  transient: (code: 1 | 2, status: number) =>
    graphError(status, {
      message: code === 1 ? 'An unknown error occurred' : 'An unexpected error has occurred. Please retry your request later.',
      type: 'OAuthException',
      code,
      is_transient: true,
    }),
  aliasesMissing: (ids: string[]) =>
    graphError(400, { message: `(#803) Some of the aliases you requested do not exist: ${ids.join(',')}`, type: 'OAuthException', code: 803 }),
  idsRemoved: () => graphError(500, { message: 'The ids query parameter is deprecated in v26.0+', type: 'GraphMethodException', code: 100 }),
  tooManyIds: (count: number) => graphError(400, { message: `(#100) Too many IDs. Maximum: 50. Provided: ${count}.`, type: 'OAuthException', code: 100 }),
  batchRequired: () => graphError(400, { message: 'The parameter batch is required', type: 'GraphMethodException', code: 100 }),
  batchInvalid: (why: string) => graphError(400, { message: `Invalid batch: ${why}`, type: 'GraphMethodException', code: 100 }),
  batchTooLarge: () => graphError(400, { message: '(#1) Too many requests in batch message. Maximum batch size is 50', type: 'OAuthException', code: 1 }),
  bodyTooLarge: () => graphError(413, { message: 'Request body is too large', type: 'OAuthException', code: 1 }),
  internal: () => graphError(500, { message: 'An unknown error occurred', type: 'OAuthException', code: 1, is_transient: true }),
};

const TOKEN_MESSAGES: Record<number, string> = {
  458: 'Error validating access token: The user has not authorized application.',
  459: 'Error validating access token: The user is enrolled in a blocking, logged-in checkpoint',
  460: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  463: 'Error validating access token: Session has expired.',
  464: 'Error validating access token: The user is not a confirmed user.',
  467: 'Error validating access token: The access token is invalid.',
  492: 'Error validating access token: The user is not authorized on this page.',
};
