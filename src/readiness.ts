import type { AccountRegistry } from './accounts.js';
import type { Clock } from './clock.js';
import { AccountHealth, isPlaceholderId, relearnAccountId, servable, type AccountState } from './health.js';
import type { Logger } from './logger.js';
import type { AccountProfiles } from './profiles/account.js';
import type { CacheStore } from './profiles/cache-store.js';
import type { AccountTokens } from './tokens/index.js';

export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'not_ready';
  accounts: Array<{ id: string; state: AccountState; pausedUntil?: string; tokenExpiresAt?: string }>;
  cache: { layer: 'none' | 'memory' | 'redis'; status: 'ok' | 'degraded' };
}

/**
 * `/readyz`: every account with its state, and the cache. 503 (`not_ready`) when no account can be
 * served (token rejected, id not known yet); `degraded` (200) when some account or Redis is unwell.
 */
export class Readiness {
  private readonly health = new WeakMap<AccountProfiles, AccountHealth>();
  private readonly loops: Array<{ stop(): void }> = [];

  constructor(private readonly deps: { tokens: AccountTokens | undefined; store: CacheStore | undefined; clock: Clock; logger: Logger }) {}

  /** Builds an account with a health record of its own. */
  async build(create: (health: AccountHealth) => Promise<AccountProfiles>): Promise<AccountProfiles> {
    const health = new AccountHealth();
    const account = await create(health);
    this.health.set(account, health);
    return account;
  }

  /** For each account whose id Meta did not tell at start: ask again in the background, and swap the real one in. */
  relearn(registry: AccountRegistry, rebuild: (account: AccountProfiles) => Promise<AccountProfiles>): void {
    for (const stand_in of registry.list().filter((account) => isPlaceholderId(account.id))) {
      this.loops.push(
        relearnAccountId({
          build: () => rebuild(stand_in),
          adopt: (account) => {
            registry.replace(stand_in.id, account);
            this.deps.tokens?.rename(stand_in.id, account.id);
          },
          clock: this.deps.clock,
          logger: this.deps.logger,
        }),
      );
    }
  }

  report(registry: AccountRegistry): { code: 200 | 503; body: ReadinessReport } {
    const now = this.deps.clock.now();
    const accounts = registry.list().map((account) => {
      const token = this.deps.tokens?.status(account.id);
      const { state, pausedUntil } = this.health.get(account)?.state(account.id, token, now) ?? { state: 'ok' as const };
      return {
        id: account.id,
        state,
        ...(pausedUntil ? { pausedUntil } : {}),
        ...(token?.expiresAt !== undefined ? { tokenExpiresAt: new Date(token.expiresAt).toISOString() } : {}),
      };
    });
    const cache = this.deps.store?.state() ?? { layer: 'none' as const, status: 'ok' as const };
    const anyServable = accounts.some((account) => servable(account.state));
    const status = !anyServable ? 'not_ready' : cache.status === 'ok' && accounts.every((a) => a.state === 'ok') ? 'ready' : 'degraded';
    return { code: anyServable ? 200 : 503, body: { status, accounts, cache } };
  }

  close(): void {
    for (const loop of this.loops) loop.stop();
  }
}
