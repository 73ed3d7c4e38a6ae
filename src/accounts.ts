import type { AccountProfiles } from './profiles/account.js';

/**
 * The business accounts this gateway serves, by Instagram professional account id. Requests and
 * webhook deliveries pick theirs here; nothing of one account is ever used for another.
 */
export class AccountRegistry {
  private readonly byId = new Map<string, AccountProfiles>();

  constructor(accounts: readonly AccountProfiles[]) {
    for (const account of accounts) this.byId.set(account.id, account);
  }

  get(id: string): AccountProfiles | undefined {
    return this.byId.get(id);
  }

  /** The account when exactly one is configured (then requests need not name it). */
  only(): AccountProfiles | undefined {
    return this.byId.size === 1 ? this.byId.values().next().value : undefined;
  }

  /** Swaps an account for its rebuilt chain (its real id learned after start). */
  replace(oldId: string, account: AccountProfiles): void {
    this.byId.delete(oldId);
    this.byId.set(account.id, account);
  }

  list(): AccountProfiles[] {
    return [...this.byId.values()];
  }
}
