import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { clip } from '../errors.js';
import type { GraphField } from '../profile.js';
import { BatchApiRefused, IdsParameterRemoved, type FetchStrategy, type StrategyName } from './types.js';
import { failAll, type ProfileOutcome } from '../outcomes.js';

/**
 * Batch POSTs answered 5xx in a row before auto mode checks whether the host serves the same ids
 * per object; a shorter run is an outage, retried as such.
 */
export const PRESUMED_REFUSAL_STREAK = 3;

/** How replicas share that a host refuses the Batch API (src/replicas/account-state.ts). */
export interface SharedRefusal {
  /** This process learned the refusal: tell the others it lasts `ms`. */
  refused(ms: number): void;
  /** Hears refusals the other replicas learned. */
  listen(adopt: (ms: number) => void): void;
}

/**
 * Prefers the Batch API; when the host refuses it, carries groups as per-object reads and
 * remembers that, trying the Batch API again only after `reprobeMs`. A definite refusal (a 4xx)
 * switches at once; 5xx answers switch only after PRESUMED_REFUSAL_STREAK of them in a row, and
 * only when per-object reads of the same ids then work.
 */
export class AutoStrategy implements FetchStrategy {
  private batchRefusedUntil = 0;
  private failedBatches = 0;

  constructor(
    private readonly batch: FetchStrategy,
    private readonly single: FetchStrategy,
    private readonly reprobeMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly shared?: SharedRefusal,
  ) {
    shared?.listen((ms) => {
      this.batchRefusedUntil = Math.max(this.batchRefusedUntil, this.clock.now() + ms);
    });
  }

  get name(): StrategyName {
    return this.batchRefused() ? this.single.name : this.batch.name;
  }

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    if (this.batchRefused()) return this.single.fetch(ids, fields);
    try {
      const outcomes = await this.batch.fetch(ids, fields);
      this.failedBatches = 0;
      return outcomes;
    } catch (error) {
      if (!(error instanceof BatchApiRefused)) throw error;
      if (!error.failure) {
        this.refuse(error);
        return this.single.fetch(ids, fields);
      }
      // Only presumed (HTTP 5xx): an outage until several batches in a row failed so.
      if (++this.failedBatches < PRESUMED_REFUSAL_STREAK) return failAll(ids, error.failure);
      this.failedBatches = 0;
      // Per-object reads of this group tell an outage (they fail too, and the fetcher retries)
      // from a host that serves objects but not batches.
      const outcomes = await this.single.fetch(ids, fields);
      if ([...outcomes.values()].some((outcome) => outcome.ok || !outcome.failure.transient)) this.refuse(error);
      return outcomes;
    }
  }

  private batchRefused(): boolean {
    return this.clock.now() < this.batchRefusedUntil;
  }

  private refuse(error: BatchApiRefused): void {
    // Several groups in flight may all learn this at once: log only the first.
    if (!this.batchRefused()) {
      this.logger.warn({ reason: error.message, reprobeSeconds: this.reprobeMs / 1000 }, 'Graph host refuses the Batch API: using per-object reads');
    }
    this.batchRefusedUntil = this.clock.now() + this.reprobeMs;
    this.shared?.refused(this.reprobeMs);
  }
}

/**
 * The configured legacy `?ids=` strategy, until the host says it is gone: then it logs once and
 * hands every later group to the automatic strategy for good (the removal is permanent).
 */
export class LegacyIdsThenAuto implements FetchStrategy {
  private removed = false;

  constructor(
    private readonly ids: FetchStrategy,
    private readonly auto: FetchStrategy,
    private readonly logger: Logger,
  ) {}

  get name(): StrategyName {
    return this.removed ? this.auto.name : this.ids.name;
  }

  async fetch(ids: readonly string[], fields: readonly GraphField[]): Promise<Map<string, ProfileOutcome>> {
    if (!this.removed) {
      try {
        return await this.ids.fetch(ids, fields);
      } catch (error) {
        if (!(error instanceof IdsParameterRemoved)) throw error;
        if (!this.removed) {
          this.logger.warn(
            { graphMessage: clip(error.message) },
            'Graph host removed the ?ids= parameter: GRAPH_BATCH_STRATEGY=ids now behaves as auto',
          );
        }
        this.removed = true;
      }
    }
    return this.auto.fetch(ids, fields);
  }
}
