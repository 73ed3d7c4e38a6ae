import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { parseUsage, type UsageReport } from './usage.js';
import { traceRoundTrip } from './trace.js';

export interface GraphCredentials {
  accessToken: string;
  appSecret?: string | undefined;
}

export interface GraphClientOptions {
  /** Graph host without a trailing slash, e.g. https://graph.instagram.com */
  baseUrl: string;
  /** Pinned version, e.g. v23.0 */
  version: string;
  credentials: GraphCredentials;
  timeoutMs: number;
  /** GRAPH_MAX_RESPONSE_BYTES: reading an answer stops here and the call fails. */
  maxResponseBytes: number;
  /** MAX_UPSTREAM_PAUSE_SECONDS: the longest wait taken from Meta's headers. */
  maxWaitSeconds: number;
  clock: Clock;
  logger: Logger;
  /** The business account id for trace spans, once known. */
  accountId?: () => string | undefined;
  /** Called with every HTTP answer (metrics). */
  onResponse?: (answer: GraphResponse) => void;
  /** Called once per HTTP round trip: what kind of call, and its HTTP status or `network_error`. */
  onCall?: (kind: CallKind, outcome: string, durationMs: number) => void;
}

export type CallKind = 'batch' | 'single' | 'ids' | 'me';

/** An HTTP answer from Graph; `body` is parsed JSON, or the raw text when it was not JSON. */
export interface GraphResponse {
  status: number;
  headers: Headers;
  body: unknown;
  /** The usage headers, parsed once here. */
  usage: UsageReport;
}

/** The answer was longer than `maxResponseBytes`; reading stopped there. */
export class GraphResponseTooLarge extends Error {
  override name = 'GraphResponseTooLarge';
  constructor(readonly limitBytes: number) {
    super(`answer larger than ${limitBytes} bytes`);
  }
}

/** The call never got an HTTP answer. `reason` is safe to show: it never holds a URL or token. */
export class GraphNetworkError extends Error {
  override name = 'GraphNetworkError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

export function appsecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

/**
 * One HTTP call to Meta: credentials, appsecret_proof, timeout and body parsing. It knows nothing
 * about GraphQL or profiles. The token never goes into a URL: GETs carry it in the Authorization
 * header, POSTs in the form body, so nothing that logs URLs can leak it.
 */
export class GraphClient {
  private proofOf: { token: string; proof: string } | undefined;

  constructor(private readonly options: GraphClientOptions) {}

  /** Credentials are read at every call, so a refreshed token (src/tokens) is used at once. */
  private get token(): string {
    return this.options.credentials.accessToken;
  }

  private get proof(): string | undefined {
    const { accessToken, appSecret } = this.options.credentials;
    if (!appSecret) return undefined;
    if (this.proofOf?.token !== accessToken) this.proofOf = { token: accessToken, proof: appsecretProof(accessToken, appSecret) };
    return this.proofOf.proof;
  }

  get version(): string {
    return this.options.version;
  }

  /** GET /vNN.0/<path>?<query> */
  get(kind: CallKind, path: string, query: Record<string, string>): Promise<GraphResponse> {
    const params = new URLSearchParams(query);
    const proof = this.proof;
    if (proof) params.set('appsecret_proof', proof);
    return this.send(kind, `${this.urlFor(path)}?${params}`, {
      method: 'GET',
      headers: { authorization: `Bearer ${this.token}` },
    });
  }

  /** POST /vNN.0/<path> with a form body carrying the token (the Batch API's documented form). */
  postForm(kind: CallKind, path: string, form: Record<string, string>): Promise<GraphResponse> {
    const body = new URLSearchParams(form);
    body.set('access_token', this.token);
    const proof = this.proof;
    if (proof) body.set('appsecret_proof', proof);
    return this.send(kind, this.urlFor(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }

  private urlFor(path: string): string {
    return `${this.options.baseUrl}/${this.options.version}/${path.replace(/^\/+/, '')}`;
  }

  private send(kind: CallKind, url: string, init: RequestInit): Promise<GraphResponse> {
    return traceRoundTrip({ kind, url, init, accountId: this.options.accountId?.() }, () => this.sendOnce(kind, url, init));
  }

  private async sendOnce(kind: CallKind, url: string, init: RequestInit): Promise<GraphResponse> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const started = performance.now();
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { ...init, signal });
      text = await readCapped(response, this.options.maxResponseBytes);
    } catch (error) {
      if (error instanceof GraphResponseTooLarge) {
        this.options.onCall?.(kind, 'too_large', performance.now() - started);
        throw error;
      }
      this.options.onCall?.(kind, 'network_error', performance.now() - started);
      throw new GraphNetworkError(describeNetworkError(error, signal.aborted, this.options.timeoutMs));
    }
    this.options.onCall?.(kind, String(response.status), performance.now() - started);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's HTML error page, say): keep the text for the error mapping.
    }
    const usage = parseUsage(response.headers, { now: this.options.clock.now(), maxWaitSeconds: this.options.maxWaitSeconds });
    const answer = { status: response.status, headers: response.headers, body, usage };
    this.options.onResponse?.(answer);
    return answer;
  }
}

/** The body as text, or GraphResponseTooLarge as soon as it passes `limit` bytes (never buffered beyond). */
async function readCapped(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw new GraphResponseTooLarge(limit);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new GraphResponseTooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if ((error as { name?: unknown })?.name === 'AbortError') return 'aborted';
  return 'network error';
}
