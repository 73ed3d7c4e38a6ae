import type DataLoader from 'dataloader';
import type { Clock } from '../clock.js';
import type { AccountProfiles } from '../profiles/account.js';
import type { ProfileLoader } from './loader.js';
import type { StaleNotice } from '../graph/outcomes.js';

/** What every resolver of one GraphQL operation shares. */
export interface GatewayContext {
  /** The business account this request reads profiles for. */
  account: AccountProfiles;
  profiles: ProfileLoader;
  /** Last webhook interaction (epoch ms) per IGSID, batched per operation. */
  interactions: DataLoader<string, number | null>;
  maxIdsPerQuery: number;
  /** MAX_IDS_PER_QUERY bounds the whole request too (many aliased calls), not only one call. */
  idsLeft: { count: number };
  /** Profiles served stale because Meta failed; reported in `extensions.staleProfiles`. */
  staleProfiles: Array<{ igsid: string } & StaleNotice>;
  /** The person's signed, stable `/avatars/…` link for this account. */
  avatarUrl: (igsid: string) => string;
  /** The gateway's clock: freshness hints are measured on it. */
  clock: Clock;
  /**
   * The people this operation loaded, each with the whole-answer caches' change epoch when it was
   * read: its answer is stored indexed by them, and not at all if one changed since.
   */
  shown: Map<string, number>;
  /** The hot path keeps this request's answer: Apollo's response cache neither reads nor writes it. */
  keptByHotPath: boolean;
}
