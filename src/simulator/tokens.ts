// Meta's long-lived token refresh: `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…`
// on the Graph host (with or without a version). A token must be at least 24 hours old (switchable
// for tests); the refreshed token replaces the old one, which is retired (Meta answers 190 for it).
import { randomBytes } from 'node:crypto';
import { errors, graphError, type SimAnswer } from './errors.js';
import type { SimulatorOptions, TokenRefreshOptions } from './types.js';

export const REFRESH_PATH = 'refresh_access_token';
const SIXTY_DAYS_SECONDS = 60 * 86_400;


export class SimTokens {
  private readonly issuedAt = new Map<string, number>();
  private readonly retired = new Set<string>();
  private readonly started = Date.now();
  /** Every refresh answered, oldest first: [old token, new token]. */
  readonly refreshes: Array<[string, string]> = [];

  constructor(private readonly options: SimulatorOptions) {
    // Refreshes edit the token map: never the caller's object.
    if (options.tokens) options.tokens = { ...options.tokens };
  }

  isRetired(token: string): boolean {
    return this.retired.has(token);
  }

  refresh(token: string, businessId: string, query: URLSearchParams): SimAnswer {
    if (query.get('grant_type') !== 'ig_refresh_token') {
      return graphError(400, { message: 'Invalid grant_type: expected ig_refresh_token', type: 'OAuthException', code: 100 });
    }
    const rules = this.options.tokenRefresh ?? {};
    const issued = this.issuedAt.get(token) ?? this.started - (rules.initialAgeSeconds ?? 0) * 1000;
    const ageSeconds = (Date.now() - issued) / 1000;
    if (ageSeconds < (rules.minAgeSeconds ?? 86_400)) {
      return graphError(400, { message: 'The access token can only be refreshed once it is at least 24 hours old', type: 'OAuthException', code: 100 });
    }
    const fresh = `IGQ${randomBytes(24).toString('base64url')}`;
    this.issuedAt.set(fresh, Date.now());
    if (this.options.tokens) this.options.tokens[fresh] = businessId;
    if (rules.retireOld ?? true) {
      this.retired.add(token);
      if (this.options.tokens) delete this.options.tokens[token];
    }
    this.refreshes.push([token, fresh]);
    return { status: 200, body: { access_token: fresh, token_type: 'bearer', expires_in: rules.expiresInSeconds ?? SIXTY_DAYS_SECONDS } };
  }

  /** Meta's answer for a token that was replaced by a refresh. */
  static retiredAnswer(): SimAnswer {
    return errors.tokenInvalid(460);
  }
}
