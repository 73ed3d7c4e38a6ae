// The simulator's fake picture CDN: `profile_pic` URLs point here when `selfCdn` is on, so demo
// mode shows real pictures offline and tests cover expiry. Like Meta's CDN it answers 403 once the
// URL's `oe=` (hex Unix seconds) has passed or when `oh=` does not match.
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { SimulatorOptions } from './types.js';

export const CDN_PREFIX = '/cdn/v/t51.2885-19/';
const SIDE = 48;

/** The fake URL signature: a function of the picture asset and its expiry only. */
export function cdnSignature(asset: string, oe: string): string {
  return createHash('sha256').update(`sim-cdn:${asset}:${oe}`).digest('hex').slice(0, 32);
}

export interface CdnAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** Answers `GET /cdn/v/t51.2885-19/<asset>_n.png?oh=00_<sig>&oe=<hex>`. */
export function answerCdn(pathname: string, query: URLSearchParams, options: SimulatorOptions, nowMs: number): CdnAnswer {
  const forbidden = (reason: string): CdnAnswer => ({ status: 403, headers: { 'Content-Type': 'text/plain' }, body: reason });
  const asset = /^(\d{1,20})_n\.(?:png|jpg)$/.exec(pathname.slice(CDN_PREFIX.length))?.[1];
  if (!pathname.startsWith(CDN_PREFIX) || !asset) return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'Not Found' };
  switch (options.cdnAnswer ?? 'ok') {
    case 'error':
      return { status: 503, headers: { 'Content-Type': 'text/plain' }, body: 'Service Unavailable' };
    case 'html':
      return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: '<html><body>Sorry, this content isn\'t available right now</body></html>' };
    case 'forbidden':
      return forbidden('Forbidden');
    case 'ok':
      break;
  }
  const oe = query.get('oe') ?? '';
  if (query.get('oh') !== `00_${cdnSignature(asset, oe)}`) return forbidden('Bad URL hash');
  if (!/^[0-9A-F]{8}$/.test(oe) || Number.parseInt(oe, 16) * 1000 <= nowMs) return forbidden('URL signature expired');
  return { status: 200, headers: { 'Content-Type': 'image/png', 'Cache-Control': 'max-age=1209600' }, body: pictureOf(asset) };
}

/** A small PNG per asset: a coloured disc on a lighter background, colours from the asset's hash. */
export function pictureOf(asset: string): Buffer {
  const h = createHash('sha256').update(asset).digest();
  const fg = [h[0]! % 160, h[1]! % 160, h[2]! % 160];
  const bg = fg.map((c) => 255 - Math.floor((255 - c) / 4));
  const rows: Buffer[] = [];
  const r = SIDE / 2;
  for (let y = 0; y < SIDE; y++) {
    const row = Buffer.alloc(1 + SIDE * 3);
    for (let x = 0; x < SIDE; x++) {
      const inside = (x - r + 0.5) ** 2 + (y - r + 0.5) ** 2 < (r * 0.7) ** 2;
      (inside ? fg : bg).forEach((c, i) => row.writeUInt8(c, 1 + x * 3 + i));
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIDE, 0);
  header.writeUInt32BE(SIDE, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
