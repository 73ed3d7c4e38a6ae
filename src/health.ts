import type { Clock, ClockTimer } from './clock.js';
import type { GraphResponse } from './graph/client.js';
import type { Logger } from './logger.js';
import type { AccountProfiles } from './profiles/account.js';
import type { TokenStatus } from './tokens/index.js';

/** What the gateway knows of an account's standing with Meta, from its own round trips. */
export interface AccountProbe {
  /** Seconds the usage guard still holds calls back (0: not paused). */
  pausedSeconds(): number;
}

/** Fed by the account's Graph client (src/profiles/account.ts): every answer, every network failure. */
export interface RoundTripObserver {
  response(answer: GraphResponse): void;
  networkError(): void;
}

export type AccountState = 'ok' | 'token_invalid' | 'unreachable' | 'paused' | 'account_unknown';

/** Per-account health: the last Graph round trip's outcome, the usage guard, the token refresher. */
export class AccountHealth {
  private last: 'ok' | 'token_invalid' | 'unreachable' | undefined;
  private probe: AccountProbe | undefined;

  /** Called once by the account's wiring with its usage guard; returns the observer for its client. */
  attach(probe: AccountProbe): RoundTripObserver {
    this.probe = probe;
    return {
      response: (answer) => {
        const code = (answer.body as { error?: { code?: unknown } } | null)?.error?.code;
        if (code === 190) this.last = 'token_invalid';
        else if (answer.status < 500) this.last = 'ok';
      },
      networkError: () => {
        this.last = 'unreachable';
      },
    };
  }

  state(accountId: string, token: TokenStatus | undefined, now: number): { state: AccountState; pausedUntil?: string } {
    if (this.last === 'token_invalid' || token?.state === 'token_invalid') return { state: 'token_invalid' };
    if (isPlaceholderId(accountId)) return { state: 'account_unknown' };
    const paused = this.probe?.pausedSeconds() ?? 0;
    if (paused > 0) return { state: 'paused', pausedUntil: new Date(now + paused * 1000).toISOString() };
    if (this.last === 'unreachable') return { state: 'unreachable' };
    return { state: 'ok' };
  }
}

/** learnAccountId's stand-in when Meta could not say which account a token belongs to. */
export function isPlaceholderId(id: string): boolean {
  return id.startsWith('token-');
}

/** Servable: Meta accepts the token and the account id is known (a pause or an outage still serves from cache). */
export function servable(state: AccountState): boolean {
  return state !== 'token_invalid' && state !== 'account_unknown';
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 5 * 60_000;

/**
 * While an account's id is a stand-in (Meta did not answer `/me` at start), keeps asking in the
 * background with capped exponential backoff; `build` makes the account chain again (it asks
 * `/me`), `adopt` swaps it in once the id is real. No restart needed.
 */
export function relearnAccountId(options: {
  build: () => Promise<AccountProfiles>;
  adopt: (account: AccountProfiles) => void;
  clock: Clock;
  logger: Logger;
}): { stop(): void } {
  let timer: ClockTimer | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = options.clock.setTimeout(() => {
      void options
        .build()
        .then((account) => {
          if (stopped) return;
          if (isPlaceholderId(account.id)) return schedule(Math.min(ms * 2, MAX_RETRY_MS));
          options.logger.info({ account: account.id }, 'learned the business account id from /me: serving it now');
          options.adopt(account);
        })
        .catch((error: unknown) => {
          options.logger.warn({ reason: (error as Error).message }, 'asking /me for the business account id failed');
          schedule(Math.min(ms * 2, MAX_RETRY_MS));
        });
    }, ms);
    timer.unref?.();
  };
  schedule(FIRST_RETRY_MS);
  return {
    stop() {
      stopped = true;
      if (timer) options.clock.clearTimeout(timer);
    },
  };
}
