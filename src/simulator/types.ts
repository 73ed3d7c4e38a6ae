// Public types of the simulator. Kept in their own module so every other simulator module can
// import them without pulling in the server; index.ts re-exports them.

export interface UsageNumbers {
  call_count: number;
  total_time: number;
  total_cputime: number;
}

export interface BusinessUsageNumbers extends UsageNumbers {
  /** Minutes, as Meta sends it. */
  estimated_time_to_regain_access: number;
}

export interface SimulatorOptions {
  host?: string;
  port?: number;
  latencyMs?: number;
  /** `refused`: Graph's "Unsupported post request" (HTTP 400, code 100); `bad-gateway`: a proxy's HTTP 502 page. */
  batchApi?: 'enabled' | 'refused' | 'bad-gateway';
  legacyIds?: 'removed' | 'working';
  tokens?: Record<string, string>;
  appSecrets?: Record<string, string>;
  appUsage?: UsageNumbers;
  businessUsage?: BusinessUsageNumbers;
  profilePicTtlSeconds?: number;
  /** Point `profile_pic` at the simulator's own fake CDN (`/cdn/…`, PNGs, 403 after `oe=`) instead of Meta-looking URLs. */
  selfCdn?: boolean;
  /** How the fake CDN answers: `ok` (default), `error` (503), `html` (a 200 HTML page), `forbidden` (403). */
  cdnAnswer?: 'ok' | 'error' | 'html' | 'forbidden';
  scenarios?: Record<string, Scenario>;
  profileOverrides?: Record<string, Partial<SimProfile>>;
  profilesByBusiness?: Record<string, Record<string, Partial<SimProfile>>>;
  /** Calls kept in `calls` (the latest ones; default `DEFAULT_MAX_LOGGED_CALLS`). `roundTrips` counts every call regardless. */
  maxLoggedCalls?: number;
  /** Rules of `GET /refresh_access_token` (src/simulator/tokens.ts). */
  tokenRefresh?: TokenRefreshOptions;
}

export type Scenario =
  | { kind: 'consent' }
  | { kind: 'blocked' }
  | { kind: 'rateLimited'; etaMinutes?: number; retryAfterSeconds?: number }
  | { kind: 'businessRateLimited'; etaMinutes?: number }
  | { kind: 'tokenInvalid'; subcode?: number }
  | { kind: 'permission' }
  | { kind: 'transient'; times?: number; code?: 1 | 2; httpStatus?: number }
  | { kind: 'unknownUser' }
  | { kind: 'slow'; ms: number }
  | { kind: 'batchNull' }
  | { kind: 'httpError'; status: number; body?: string };

export interface SimCall {
  at: number;
  method: string;
  path: string;
  kind: 'single' | 'batch' | 'ids' | 'me' | 'cdn' | 'other';
  ids: string[];
  fields: string[];
  version: string | null;
  status: number;
  token: string | null;
  tokenLocation: 'header' | 'query' | 'form' | null;
  appsecretProof: string | null;
  businessId: string | null;
}

export interface Simulator {
  url: string;
  /** The latest calls since `resetCalls()`, oldest first, at most `maxLoggedCalls` of them. */
  calls: SimCall[];
  options: SimulatorOptions;
  configure(patch: Partial<SimulatorOptions>): void;
  setScenario(igsid: string, scenario: Scenario | null): void;
  resetCalls(): void;
  /** Every token refresh answered, oldest first: [old token, new token]. */
  tokenRefreshes: ReadonlyArray<[string, string]>;
  /** Calls (of a kind) since `resetCalls()`, including those no longer kept in `calls`. */
  roundTrips(kind?: SimCall['kind']): number;
  close(): Promise<void>;
}

export interface SimProfile {
  name: string | null;
  username: string;
  profile_pic: string | null;
  follower_count: number;
  is_user_follow_business: boolean;
  is_business_follow_user: boolean;
  is_verified_user: boolean;
}

export const DEFAULT_BUSINESS_ID = '17841400000000001';

/** Default bound of the call log: a long demo run must not grow the process without end. */
export const DEFAULT_MAX_LOGGED_CALLS = 1_000;

/** Rules of the simulator's `GET /refresh_access_token` (src/simulator/tokens.ts). */
export interface TokenRefreshOptions {
  /** Tokens younger than this are refused (Meta: 24 hours). */
  minAgeSeconds?: number;
  /** Age of the tokens the simulator started with (default 0: issued at start). */
  initialAgeSeconds?: number;
  /** `expires_in` of refreshed tokens (Meta: about 60 days). */
  expiresInSeconds?: number;
  /** Whether the token sent is refused from then on (default true). */
  retireOld?: boolean;
}
