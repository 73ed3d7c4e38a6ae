import { z } from 'zod';
import { ConfigError, describeEntryIssue, pickIssue, readJsonFile } from './config-error.js';

/** One business account's credentials. `id` is absent only for the single INSTAGRAM_ACCESS_TOKEN account (learned from /me). */
export interface AccountCredentials {
  id?: string;
  accessToken: string;
  appSecret?: string | undefined;
}

const VARIABLE = 'INSTAGRAM_ACCOUNTS_FILE';

const entry = z.strictObject(
  {
    id: z.string({ error: 'must be a string of 1–20 digits' }).regex(/^[0-9]{1,20}$/, 'must be 1–20 digits'),
    accessToken: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty'),
    appSecret: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} (known: "id", "accessToken", "appSecret")` : 'must be an object') },
);

const file = z.array(entry, { error: 'must hold a JSON array of accounts' }).min(1, 'must list at least one account');

/**
 * Loads and validates the accounts file: `[{"id": "<IG professional account id>", "accessToken": "…",
 * "appSecret": "…"?}]`. Entries without `appSecret` use `defaultAppSecret` (INSTAGRAM_APP_SECRET).
 */
export function loadAccountsFile(path: string, defaultAppSecret: string | undefined): AccountCredentials[] {
  const parsed = file.safeParse(readJsonFile(VARIABLE, path));
  if (!parsed.success) throw new ConfigError(describeEntryIssue(VARIABLE, pickIssue(parsed.error.issues)));
  const seen = new Map<string, number>();
  parsed.data.forEach((account, index) => {
    const earlier = seen.get(account.id);
    if (earlier !== undefined) {
      throw new ConfigError(`${VARIABLE} entry ${index + 1} ("id"): account ${account.id} is already entry ${earlier + 1}`);
    }
    seen.set(account.id, index);
  });
  return parsed.data.map((account) => ({
    id: account.id,
    accessToken: account.accessToken,
    appSecret: account.appSecret ?? defaultAppSecret,
  }));
}
