import { createHmac, timingSafeEqual } from 'node:crypto';
import { IGSID_PATTERN } from '../graph/profile.js';

/** Business account ids are digits (or `token-<hex>` when Meta could not tell us); nothing else is routed. */
const ACCOUNT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** 128 bits of HMAC-SHA256, base64url: unguessable, and short enough for an `<img src>`. */
const SIGNATURE_LENGTH = 22;

export interface AccountSecrets {
  id: string;
  accessToken: string;
  appSecret?: string | undefined;
}

/**
 * Signed, stable avatar links: `<public url>/avatars/<account>/<igsid>.<signature>`. The signature
 * is HMAC-SHA256 over account and IGSID with a per-account key, so a link works on every replica
 * and across restarts, reveals no secret, and nobody can ask the gateway for an id it did not sign.
 */
export class AvatarLinks {
  private readonly keys = new Map<string, Buffer>();
  /** Each account's key base, kept so an account learned under its real id later gets its key. */
  private readonly roots = new Map<string, string>();

  /**
   * `signingKey` (AVATAR_SIGNING_KEY) wins; else the global app secret; else each account's own app
   * secret, else its access token. Each account's key is derived from that base and its id.
   */
  constructor(
    accounts: readonly AccountSecrets[],
    base: { signingKey?: string | undefined; appSecret?: string | undefined },
    private readonly publicUrl: () => string,
  ) {
    for (const account of accounts) {
      this.addKey(account.id, base.signingKey ?? base.appSecret ?? account.appSecret ?? account.accessToken);
    }
  }

  /** An account started under a stand-in id and Meta has now told its real one (a late `/me`): sign for it too. */
  learned(standIn: string, real: string): void {
    const root = this.roots.get(standIn);
    if (root !== undefined && !this.keys.has(real)) this.addKey(real, root);
  }

  private addKey(account: string, root: string): void {
    this.roots.set(account, root);
    this.keys.set(account, createHmac('sha256', root).update(`igpg-avatar-key:${account}`).digest());
  }

  urlFor(account: string, igsid: string): string {
    return `${this.publicUrl()}/avatars/${encodeURIComponent(account)}/${igsid}.${this.sign(account, igsid)}`;
  }

  /** The IGSID a `/avatars/<account>/<file>` path addresses, when its signature is right; else null. */
  verify(account: string, file: string): string | null {
    const match = /^(\d{1,20})\.([A-Za-z0-9_-]{22})$/.exec(file);
    if (!match || !ACCOUNT_PATTERN.test(account) || !this.keys.has(account)) return null;
    const [, igsid, given] = match as unknown as [string, string, string];
    if (!IGSID_PATTERN.test(igsid)) return null;
    const expected = Buffer.from(this.sign(account, igsid));
    return timingSafeEqual(expected, Buffer.from(given)) ? igsid : null;
  }

  private sign(account: string, igsid: string): string {
    const key = this.keys.get(account);
    if (!key) throw new Error('avatar link for an account this gateway does not serve');
    return createHmac('sha256', key).update(igsid).digest('base64url').slice(0, SIGNATURE_LENGTH);
  }
}
