import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, describeEntryIssue, pickIssue, readJsonFile } from './config-error.js';

/** A client key and the business accounts it may read (`*`: all). */
export interface ApiKey {
  key: string;
  accounts: string[];
}

const VARIABLE = 'GATEWAY_API_KEYS_FILE';
const MIN_KEY_LENGTH = 16;

const entry = z.strictObject(
  {
    key: z.string({ error: 'must be a string' }).min(MIN_KEY_LENGTH, `must be at least ${MIN_KEY_LENGTH} characters`),
    accounts: z
      .array(z.string({ error: 'must be account ids or "*"' }).regex(/^([0-9]{1,20}|\*)$/, 'must be account ids (1–20 digits) or "*"'), {
        error: 'must be an array of account ids or ["*"]',
      })
      .min(1, 'must list at least one account id or "*"'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : 'must be an object') },
);

const file = z.array(entry, { error: 'must hold a JSON array of keys' }).min(1, 'must list at least one key');

/** A short, non-reversible name for a key, safe to log. */
export function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export function loadApiKeysFile(path: string): ApiKey[] {
  const parsed = file.safeParse(readJsonFile(VARIABLE, path));
  if (!parsed.success) throw new ConfigError(describeEntryIssue(VARIABLE, pickIssue(parsed.error.issues)));
  const seen = new Map<string, number>();
  parsed.data.forEach((key, index) => {
    const earlier = seen.get(key.key);
    if (earlier !== undefined) throw new ConfigError(`${VARIABLE} entry ${index + 1} ("key"): the same key as entry ${earlier + 1}`);
    seen.set(key.key, index);
  });
  return parsed.data;
}

/** Known keys, checked in constant time: every presented key is compared (as SHA-256 digests) to every known one. */
export class ApiKeyRing {
  private readonly keys: Array<{ digest: Buffer; accounts: Set<string>; fingerprint: string }>;

  constructor(keys: readonly ApiKey[]) {
    this.keys = keys.map((key) => ({ digest: sha256(key.key), accounts: new Set(key.accounts), fingerprint: fingerprint(key.key) }));
  }

  /** The matching key's grant, or undefined. Digests have equal length, so nothing exits early on length. */
  find(presented: string): { fingerprint: string; allows(accountId: string): boolean } | undefined {
    const digest = sha256(presented);
    let found: (typeof this.keys)[number] | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.digest)) found = key;
    }
    if (!found) return undefined;
    const grant = found;
    return { fingerprint: grant.fingerprint, allows: (id) => grant.accounts.has('*') || grant.accounts.has(id) };
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
