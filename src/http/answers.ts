import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/**
 * HTTP-level refusals in the GraphQL response shape, so a `/graphql` client parses every JSON
 * answer the same way. Codes follow Apollo's own (`BAD_REQUEST`) where it has one.
 */
export type HttpErrorCode = 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE' | 'REQUEST_TIMEOUT' | 'RESPONSE_TOO_LARGE' | 'INTERNAL_SERVER_ERROR';

export function graphQLErrorBody(message: string, code: HttpErrorCode): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

export function httpErrorCode(status: number): HttpErrorCode {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 408) return 'REQUEST_TIMEOUT';
  return status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
}

/**
 * Node's `clientError` (malformed request line, headers over the size limit, a client too slow to
 * send its headers): answered before any route is known, so in the GraphQL shape for every path.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time (HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS).']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are too large.']
        : [400, 'The HTTP request is malformed.'];
  const body = graphQLErrorBody(message, httpErrorCode(status));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * How deeply objects and arrays nest in `value`, counted without recursion (a deep value must not
 * overflow the stack) and stopping once `limit` is passed: the answer is then `limit + 1`.
 */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return limit + 1;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The same for JSON text, scanned once (GET sends variables as a JSON string). */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') {
      depth++;
      if (depth > limit) return limit + 1;
      deepest = Math.max(deepest, depth);
    } else if (char === '}' || char === ']') depth--;
  }
  return deepest;
}
