/** A person as the whole-response caches index them: `<account id>\n<igsid>`. */
export const personOf = (account: string, igsid: string) => `${account}\n${igsid}`;

/** People whose latest change is remembered; an older change only makes answers look changed. */
export const RECENT_CHANGES = 10_000;

/**
 * When each person's answer last changed, as an epoch counter (bounded: the RECENT_CHANGES latest).
 * An answer is not stored when one of its people changed after the operation read them: it may
 * show what the change replaced. (A read that itself fetched and stored the person ends after
 * that change, so its answer is kept.)
 */
export class RecentChanges {
  private epoch = 0;
  private readonly latest = new Map<string, number>();
  /** Every change at or before this epoch is forgotten: answers that old count as changed. */
  private forgottenUpTo = 0;

  now(): number {
    return this.epoch;
  }

  note(people: readonly string[]): void {
    this.epoch++;
    for (const person of people) {
      this.latest.delete(person);
      this.latest.set(person, this.epoch);
    }
    for (const [person, epoch] of this.latest) {
      if (this.latest.size <= RECENT_CHANGES) break;
      this.latest.delete(person);
      this.forgottenUpTo = epoch;
    }
  }

  /** Whether one of `people` changed after the epoch it was read at. */
  changedSince(people: ReadonlyArray<readonly [person: string, readAt: number]>): boolean {
    for (const [person, readAt] of people) {
      if (readAt >= this.epoch) continue;
      if (readAt < this.forgottenUpTo || (this.latest.get(person) ?? 0) > readAt) return true;
    }
    return false;
  }
}

/** Stored answers by the people they show, so a change to one person finds exactly the answers to drop. */
export class PeopleIndex {
  private readonly keys = new Map<string, Set<string>>();

  add(key: string, people: readonly string[]): void {
    for (const person of people) {
      const keys = this.keys.get(person) ?? new Set<string>();
      keys.add(key);
      this.keys.set(person, keys);
    }
  }

  remove(key: string, people: readonly string[]): void {
    for (const person of people) {
      const keys = this.keys.get(person);
      keys?.delete(key);
      if (keys && !keys.size) this.keys.delete(person);
    }
  }

  /** The keys of answers showing any of `people`. */
  showing(people: readonly string[]): string[] {
    return people.flatMap((person) => [...(this.keys.get(person) ?? [])]);
  }
}
