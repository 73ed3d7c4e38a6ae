import type { IncomingHttpHeaders } from 'node:http';
import { GraphQLError } from 'graphql';
import type { AccountRegistry } from '../accounts.js';
import { ApiKeyRing, fingerprint } from '../api-keys.js';
import type { Logger } from '../logger.js';
import type { AccountProfiles } from '../profiles/account.js';
import type { GatewayErrorCode } from '../graph/outcomes.js';

export const ACCOUNT_HEADER = 'x-instagram-account';

/** A request refused before any resolver runs; `http.status` becomes the HTTP status (Apollo drops it from the body). */
export function requestError(code: GatewayErrorCode, status: number, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, retryable: false, http: { status } } });
}

/**
 * Who may read which account: with API keys, the `Authorization: Bearer <key>` key must be known
 * (401) and list the account (403); then `X-Instagram-Account` picks the account, optional when
 * only one is configured. Nothing here calls Meta. Keys are never logged, only fingerprints.
 */
export class RequestAuthorizer {
  private readonly ring: ApiKeyRing | undefined;

  constructor(
    private readonly accounts: AccountRegistry,
    keys: ConstructorParameters<typeof ApiKeyRing>[0] | undefined,
    private readonly logger: Logger,
  ) {
    this.ring = keys ? new ApiKeyRing(keys) : undefined;
  }

  /** The account a request's headers may read; throws the refusal (logged) otherwise. */
  authorize(headers: IncomingHttpHeaders): AccountProfiles {
    return this.check(headers, true);
  }

  /**
   * The account a request's headers may read, or undefined, without logging: for the paths that
   * answer before Apollo and leave any refusal to it (logged once, there).
   */
  peek(headers: IncomingHttpHeaders): AccountProfiles | undefined {
    try {
      return this.check(headers, false);
    } catch {
      return undefined;
    }
  }

  private check(headers: IncomingHttpHeaders, log: boolean): AccountProfiles {
    const grant = this.authenticate(headers, log);
    const asked = headerValue(headers[ACCOUNT_HEADER]);
    if (asked === undefined) {
      const only = this.accounts.only();
      if (!only) {
        throw requestError(
          'ACCOUNT_REQUIRED',
          400,
          'Several Instagram business accounts are served here: name one with the header `X-Instagram-Account: <business account id>`.',
        );
      }
      if (grant && !grant.allows(only.id)) throw this.forbidden(grant.fingerprint, only.id, log);
      return only;
    }
    // A key limited to some accounts learns nothing about others: FORBIDDEN before "unknown".
    if (grant && !grant.allows(asked)) throw this.forbidden(grant.fingerprint, asked, log);
    const account = this.accounts.get(asked);
    if (!account) {
      throw requestError('ACCOUNT_UNKNOWN', 400, `X-Instagram-Account "${shownAccount(asked)}" is not an account this gateway serves.`);
    }
    return account;
  }

  private authenticate(headers: IncomingHttpHeaders, log: boolean) {
    if (!this.ring) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(headerValue(headers.authorization) ?? '');
    if (!match) {
      throw requestError('UNAUTHENTICATED', 401, 'This endpoint needs an API key: send `Authorization: Bearer <key>`.');
    }
    const grant = this.ring.find(match[1]!);
    if (!grant) {
      if (log) this.logger.warn({ key: fingerprint(match[1]!) }, 'request with an unknown API key refused');
      throw requestError('UNAUTHENTICATED', 401, 'The API key is not valid.');
    }
    return grant;
  }

  private forbidden(key: string, accountId: string, log: boolean): GraphQLError {
    const shown = shownAccount(accountId);
    if (log) this.logger.warn({ key, account: shown }, 'API key used for an account it does not list');
    return requestError('FORBIDDEN', 403, `This API key may not read Instagram account ${shown}.`);
  }
}

/** A client-sent account id, cut short: it is echoed into answers and logs. */
function shownAccount(asked: string): string {
  return asked.length > 24 ? `${asked.slice(0, 24)}…` : asked;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}
