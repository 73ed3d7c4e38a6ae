import type { Logger } from 'pino';
import type { BatchStrategyName } from '../../config.js';
import type { Clock } from '../../clock.js';
import type { GraphField } from '../profile.js';
import type { GraphClient } from '../client.js';
import type { UpstreamGate } from '../gate.js';
import { AutoStrategy, LegacyIdsThenAuto, type SharedRefusal } from './auto.js';
import { BatchStrategy } from './batch.js';
import { IdsStrategy } from './ids.js';
import { SingleStrategy } from './single.js';
import { BatchApiRefused, type FetchStrategy } from './types.js';
import { type ProfileOutcome, batchRefusedFailure, failAll } from '../outcomes.js';

export type { FetchStrategy, StrategyName } from './types.js';

export interface StrategyOptions {
  strategy: BatchStrategyName;
  singleConcurrency: number;
  reprobeMs: number;
  clock: Clock;
  logger: Logger;
  /** Shares auto's memory that the host refuses the Batch API with other replicas. */
  sharedRefusal?: SharedRefusal | undefined;
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
      return failAll(ids, error.failure ?? batchRefusedFailure());
    }
  }
}

/** Every strategy reaches Meta through `gate` (pause, concurrency slots, usage). */
export function createStrategy(client: GraphClient, gate: UpstreamGate, options: StrategyOptions): FetchStrategy {
  const batch = new BatchStrategy(client, gate);
  const single = new SingleStrategy(client, gate, options.singleConcurrency);
  const auto = () => new AutoStrategy(batch, single, options.reprobeMs, options.clock, options.logger, options.sharedRefusal);
  switch (options.strategy) {
    case 'batch':
      return new StrictBatch(batch);
    case 'single':
      return single;
    case 'ids':
      return new LegacyIdsThenAuto(new IdsStrategy(client, gate), auto(), options.logger);
    case 'auto':
      return auto();
  }
}
