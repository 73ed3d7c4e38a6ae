import { describe, expect, it } from 'vitest';
import { AvatarLinks } from '../src/avatars/links.js';

const accounts = [
  { id: '17841400000000001', accessToken: 'token-a' },
  { id: '17841400000000002', accessToken: 'token-b', appSecret: 'secret-b' },
];
const links = (base: { signingKey?: string; appSecret?: string } = {}) => new AvatarLinks(accounts, base, () => 'https://gw.example');
const fileOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

describe('avatar links', () => {
  it('a link signed for one account never opens another account\'s avatar', () => {
    const signer = links();
    const file = fileOf(signer.urlFor('17841400000000001', '1784140000000001'));
    expect(signer.verify('17841400000000001', file)).toBe('1784140000000001');
    expect(signer.verify('17841400000000002', file)).toBeNull();
  });

  it('keys come from AVATAR_SIGNING_KEY, else the app secret, else the account\'s secret or token', () => {
    const url = (base: { signingKey?: string; appSecret?: string }) => links(base).urlFor('17841400000000002', '42');
    expect(url({})).toBe(links({}).urlFor('17841400000000002', '42'));
    expect(url({ appSecret: 'app' })).not.toBe(url({}));
    expect(url({ signingKey: 'k'.repeat(32), appSecret: 'app' })).toBe(url({ signingKey: 'k'.repeat(32) }));
    expect(url({ signingKey: 'k'.repeat(32) })).not.toBe(url({ appSecret: 'app' }));
    for (const secret of ['token-a', 'token-b', 'secret-b']) expect(url({})).not.toContain(secret);
  });

  it('an account learned under its real id after a stand-in (a late /me) gets links that verify', () => {
    const signer = new AvatarLinks([{ id: 'token-abc', accessToken: 'token-a' }], {}, () => 'https://gw.example');
    expect(() => signer.urlFor('17841400000000001', '42')).toThrow();
    signer.learned('token-abc', '17841400000000001');
    const file = fileOf(signer.urlFor('17841400000000001', '42'));
    expect(signer.verify('17841400000000001', file)).toBe('42');
    expect(signer.verify('token-abc', file)).toBeNull();
  });
});
