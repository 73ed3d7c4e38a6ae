import type { StaleNotice } from '../graph/answer.js';
import type { AccountProfiles } from '../profiles/account.js';
import type { ProfileLoader } from '../profiles/loader.js';

/** What every resolver of one GraphQL operation shares. */
export interface GatewayContext {
  /** The business account this request reads profiles for. */
  account: AccountProfiles;
  profiles: ProfileLoader;
  maxIdsPerQuery: number;
  /** Profiles served stale because Meta failed; reported in `extensions.staleProfiles`. */
  staleProfiles: Array<{ igsid: string } & StaleNotice>;
}
