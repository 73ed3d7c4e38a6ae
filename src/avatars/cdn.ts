/**
 * Fetches a profile picture from Meta's CDN, and from nowhere else: the URL comes from Meta's
 * answer, but a gateway that fetched any URL it was handed would be a server-side request forgery
 * tool. Every hop (the URL and each redirect) must be on an allowed host, over HTTPS (plain HTTP
 * only on loopback, for the simulator); the body is capped, typed and sniffed; one timeout bounds it all.
 */
export type CdnFailure =
  | 'host_refused'
  | 'redirect_refused'
  | 'forbidden'
  | 'not_found'
  | 'http_error'
  | 'network_error'
  | 'timeout'
  | 'too_large'
  | 'not_image';

export type CdnOutcome = { ok: true; bytes: Buffer; contentType: string } | { ok: false; failure: CdnFailure };

export interface CdnOptions {
  /** `host` exactly, or `*.domain` for any subdomain of it. */
  allowedHosts: readonly string[];
  maxBytes: number;
  timeoutMs: number;
}

const MAX_REDIRECTS = 3;

/** Raster types only: an SVG from elsewhere could carry script on the gateway's origin. */
const SIGNATURES: ReadonlyArray<{ type: string; matches: (b: Buffer) => boolean }> = [
  { type: 'image/jpeg', matches: (b) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'image/png', matches: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { type: 'image/gif', matches: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  { type: 'image/webp', matches: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
  { type: 'image/avif', matches: (b) => b.subarray(4, 12).toString('latin1') === 'ftypavif' },
];

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || /^127(?:\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

export function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return allowed.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern));
}

/** The URL when it may be fetched: allowed host, https (http on loopback), no credentials in it. */
export function fetchableUrl(raw: string, base: string | undefined, allowed: readonly string[]): URL | null {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
  return secure && hostAllowed(url.hostname, allowed) ? url : null;
}

export async function fetchPicture(raw: string, options: CdnOptions): Promise<CdnOutcome> {
  const first = fetchableUrl(raw, undefined, options.allowedHosts);
  if (!first) return { ok: false, failure: 'host_refused' };
  let url: URL = first;
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    for (let hop = 0; ; hop++) {
      // No cookies, no tokens, no referrer: the CDN learns nothing but the URL Meta gave us.
      const response: Response = await fetch(url, { redirect: 'manual', signal, headers: { accept: 'image/*' }, referrerPolicy: 'no-referrer' });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel();
        const next: URL | null = hop < MAX_REDIRECTS ? fetchableUrl(response.headers.get('location') ?? '', url.href, options.allowedHosts) : null;
        if (!next) return { ok: false, failure: 'redirect_refused' };
        url = next;
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return { ok: false, failure: response.status === 403 ? 'forbidden' : response.status === 404 ? 'not_found' : 'http_error' };
      }
      return await readImage(response, options.maxBytes);
    }
  } catch (error) {
    return { ok: false, failure: signal.aborted || (error as Error).name === 'TimeoutError' ? 'timeout' : 'network_error' };
  }
}

async function readImage(response: Response, maxBytes: number): Promise<CdnOutcome> {
  const claimed = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase().replace('image/jpg', 'image/jpeg');
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (!claimed.startsWith('image/') || declared > maxBytes) {
    await response.body?.cancel();
    return { ok: false, failure: claimed.startsWith('image/') ? 'too_large' : 'not_image' };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      return { ok: false, failure: 'too_large' };
    }
    chunks.push(Buffer.from(chunk));
  }
  const bytes = Buffer.concat(chunks);
  const sniffed = SIGNATURES.find((signature) => signature.matches(bytes))?.type;
  return sniffed && sniffed === claimed ? { ok: true, bytes, contentType: sniffed } : { ok: false, failure: 'not_image' };
}
