import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
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
  logger: Logger;
  /** The business account id for trace spans, once known. */
  accountId?: () => string | undefined;
  /** Called with every HTTP answer (usage tracking, throttling, metrics). */
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
      text = await response.text();
    } catch (error) {
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
    const answer = { status: response.status, headers: response.headers, body };
    this.options.onResponse?.(answer);
    return answer;
  }
}

function describeNetworkError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if ((error as { name?: unknown })?.name === 'AbortError') return 'aborted';
  return 'network error';
}
