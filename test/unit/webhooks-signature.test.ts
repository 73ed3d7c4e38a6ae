import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSignature, secretsEqual } from '../../src/webhooks/signature.js';

const SECRET = 'unit-app-secret-5e6f7a8b';
const OTHER_APP_SECRET = 'other-app-secret-1a2b3c4d';
const body = Buffer.from('{"object":"instagram","entry":[{"id":"17841400000000001","messaging":[]}]}');
const hmac = (raw: Buffer, secret: string) => createHmac('sha256', secret).update(raw).digest('hex');

describe('X-Hub-Signature-256', () => {
  it('accepts the HMAC-SHA256 of the exact bytes, in either hex case, with surrounding spaces, or as the first of repeated headers', () => {
    const hex = hmac(body, SECRET);
    expect(checkSignature(body, `sha256=${hex}`, SECRET)).toBe('valid');
    expect(checkSignature(body, `sha256=${hex.toUpperCase()}`, SECRET)).toBe('valid');
    expect(checkSignature(body, ` sha256=${hex} `, SECRET)).toBe('valid');
    expect(checkSignature(body, [`sha256=${hex}`, 'sha256=00'], SECRET)).toBe('valid');
  });

  it('says "missing" when there is no header (or an empty one)', () => {
    expect(checkSignature(body, undefined, SECRET)).toBe('missing');
    expect(checkSignature(body, '', SECRET)).toBe('missing');
    expect(checkSignature(body, [], SECRET)).toBe('missing');
  });

  it.each([
    ['a wrong secret', () => `sha256=${hmac(body, 'wrong-secret')}`],
    ['another app\'s secret', () => `sha256=${hmac(body, OTHER_APP_SECRET)}`],
    ['a tampered body', () => `sha256=${hmac(Buffer.from(body.toString().replace('[]', '[{}]')), SECRET)}`],
    ['a digest one hex digit short', () => `sha256=${hmac(body, SECRET).slice(0, -1)}`],
    ['a digest one hex digit long', () => `sha256=${hmac(body, SECRET)}0`],
    ['a truncated digest', () => 'sha256=abc'],
    ['no prefix', () => hmac(body, SECRET)],
    ['the sha1 prefix', () => `sha1=${hmac(body, SECRET)}`],
    ['a prefix in capitals', () => `SHA256=${hmac(body, SECRET)}`],
    ['non-hex characters', () => `sha256=${'g'.repeat(64)}`],
    ['two signatures in one header', () => `sha256=${hmac(body, SECRET)},sha256=${hmac(body, SECRET)}`],
  ])('says "forged" for %s', (_what, header) => {
    expect(checkSignature(body, header(), SECRET)).toBe('forged');
  });

  it('verifies against the secret it is given: a delivery of another app is valid only with that app\'s secret', () => {
    const header = `sha256=${hmac(body, OTHER_APP_SECRET)}`;
    expect(checkSignature(body, header, OTHER_APP_SECRET)).toBe('valid');
    expect(checkSignature(body, header, SECRET)).toBe('forged');
  });

  it('signs the empty body too (nothing unsigned is ever read)', () => {
    const empty = Buffer.alloc(0);
    expect(checkSignature(empty, `sha256=${hmac(empty, SECRET)}`, SECRET)).toBe('valid');
    expect(checkSignature(empty, `sha256=${hmac(body, SECRET)}`, SECRET)).toBe('forged');
  });
});

describe('secretsEqual (the verify token)', () => {
  it('is true only for the identical string, whatever the lengths', () => {
    expect(secretsEqual('verify-token-1', 'verify-token-1')).toBe(true);
    expect(secretsEqual('verify-token-2', 'verify-token-1')).toBe(false);
    expect(secretsEqual('verify-token-1x', 'verify-token-1')).toBe(false);
    expect(secretsEqual('', 'verify-token-1')).toBe(false);
    expect(secretsEqual('VERIFY-TOKEN-1', 'verify-token-1')).toBe(false);
  });
});
