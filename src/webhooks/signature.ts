import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = 'valid' | 'missing' | 'forged';

const HEADER_PATTERN = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks Meta's `X-Hub-Signature-256: sha256=<hex>` — HMAC-SHA256 of the raw body bytes keyed by
 * the app secret — in constant time. Runs before the body is parsed: nothing unsigned is read.
 */
export function checkSignature(rawBody: Buffer, header: string | string[] | undefined, appSecret: string): SignatureCheck {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 'missing';
  const match = HEADER_PATTERN.exec(value.trim());
  if (!match) return 'forged';
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  // Both are 32 bytes (the pattern fixes the hex length), as timingSafeEqual requires.
  return timingSafeEqual(expected, given) ? 'valid' : 'forged';
}

/** Constant-time string equality; hashing first makes the lengths equal and hides them too. */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
