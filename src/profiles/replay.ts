/** Durable writes kept while Redis is away (the latest per key); past this the oldest are dropped and counted. */
export const REPLAY_MAX_KEYS = 10_000;

export type ReplayOp = { kind: 'set'; key: string; value: unknown; expiresAt: number } | { kind: 'del'; key: string };

/**
 * What must reach Redis but could not (interaction times, dropped refusals) during an outage:
 * bounded, latest operation per key, replayed in order when Redis is back. Expiry is absolute, so a
 * value replayed late keeps its original deadline (and one already expired is not replayed).
 */
export class ReplayBuffer {
  private readonly ops = new Map<string, ReplayOp>();

  constructor(
    private readonly maxKeys: number,
    private readonly onDropped: (count: number) => void,
  ) {}

  get size(): number {
    return this.ops.size;
  }

  add(ops: readonly ReplayOp[]): void {
    for (const op of ops) {
      this.ops.delete(op.key);
      this.ops.set(op.key, op);
    }
    let dropped = 0;
    for (const key of this.ops.keys()) {
      if (this.ops.size <= this.maxKeys) break;
      this.ops.delete(key);
      dropped++;
    }
    if (dropped) this.onDropped(dropped);
  }

  /** Everything buffered, oldest first; the buffer is empty afterwards. */
  take(): ReplayOp[] {
    const all = [...this.ops.values()];
    this.ops.clear();
    return all;
  }
}
