import type { Logger } from 'pino';
import type { BatchStrategyName } from '../../config.js';
import type { GraphField } from '../profile.js';
import type { GraphClient } from '../client.js';
import { AutoStrategy, LegacyIdsThenAuto } from './auto.js';
import { BatchStrategy } from './batch.js';
import { IdsStrategy } from './ids.js';
import { SingleStrategy } from './single.js';
import { BatchApiRefused, type FetchStrategy } from './types.js';
import { type ProfileOutcome, failAll } from '../outcomes.js';

export type { FetchStrategy, StrategyName } from './types.js';

export interface StrategyOptions {
  strategy: BatchStrategyName;
  singleConcurrency: number;
  reprobeMs: number;
  /** Seconds left of the account's pause (usage guard); per-object reads stop sending while it lasts. */
  pausedSeconds?: () => number;
  logger: Logger;
}

/** An explicitly configured Batch API on a host that refuses it: say so per id, don't switch. */
class StrictBatch implements FetchStrategy {
  readonly name = 'batch';
  constructor(private readonly batch: BatchStrategy) {}
  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    try {
      return await this.batch.fetch(ids, fields);
    } catch (error) {
      if (!(error instanceof BatchApiRefused)) throw error;
      return failAll(ids, error.failure ?? {
        code: 'UPSTREAM_ERROR',
        message: 'The Graph host refuses the Batch API; set GRAPH_BATCH_STRATEGY=auto or single.',
        retryable: false,
        transient: false,
      });
    }
  }
}

export function createStrategy(client: GraphClient, options: StrategyOptions): FetchStrategy {
  const batch = new BatchStrategy(client);
  const single = new SingleStrategy(client, options.singleConcurrency, options.pausedSeconds);
  const auto = () => new AutoStrategy(batch, single, options.reprobeMs, options.logger);
  switch (options.strategy) {
    case 'batch':
      return new StrictBatch(batch);
    case 'single':
      return single;
    case 'ids':
      return new LegacyIdsThenAuto(new IdsStrategy(client), auto(), options.logger);
    case 'auto':
      return auto();
  }
}
