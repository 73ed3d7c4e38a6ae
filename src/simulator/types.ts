// Public types of the simulator. Kept in their own module so every other simulator module can
// import them without pulling in the server; index.ts re-exports them.
import type { TokenRefreshOptions } from './tokens.js';

export type { TokenRefreshOptions };

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
  scenarios?: Record<string, Scenario>;
  profileOverrides?: Record<string, Partial<SimProfile>>;
  profilesByBusiness?: Record<string, Record<string, Partial<SimProfile>>>;
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
  kind: 'single' | 'batch' | 'ids' | 'me' | 'other';
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
  calls: SimCall[];
  options: SimulatorOptions;
  configure(patch: Partial<SimulatorOptions>): void;
  setScenario(igsid: string, scenario: Scenario | null): void;
  resetCalls(): void;
  /** Every token refresh answered, oldest first: [old token, new token]. */
  tokenRefreshes: ReadonlyArray<[string, string]>;
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
