/** A person as whole answers are invalidated: `<account id>\n<igsid>`. */
const personOf = (account: string, igsid: string) => `${account}\n${igsid}`;

/** People whose latest change is remembered; answers read before a forgotten change count as changed. */
export const RECENT_CHANGES = 50_000;

/**
 * When each person's answer last changed, as an epoch counter (bounded: the RECENT_CHANGES latest).
 * A whole answer keeps, per person it shows, the epoch at which its operation read them; it is
 * served only while none of them changed since. Nothing is indexed or dropped eagerly, so storing an
 * answer costs nothing more than keeping that map. (A read that itself fetched and stored a person
 * ends after that change, so its answer stays valid.)
 */
export class RecentChanges {
  private epoch = 0;
  private readonly latest = new Map<string, number>();
  /** Every change at or before this epoch is forgotten: answers read that early count as changed. */
  private forgottenUpTo = 0;

  now(): number {
    return this.epoch;
  }

  note(account: string, igsids: readonly string[]): void {
    this.epoch++;
    for (const igsid of igsids) {
      const person = personOf(account, igsid);
      this.latest.delete(person);
      this.latest.set(person, this.epoch);
    }
    for (const [person, epoch] of this.latest) {
      if (this.latest.size <= RECENT_CHANGES) break;
      this.latest.delete(person);
      this.forgottenUpTo = epoch;
    }
  }

  /** Whether one of the people of `account` in `read` (igsid → epoch read at) changed since. */
  changedSince(account: string, read: ReadonlyMap<string, number>): boolean {
    for (const [igsid, readAt] of read) {
      if (readAt >= this.epoch) continue;
      if (readAt < this.forgottenUpTo || (this.latest.get(personOf(account, igsid)) ?? 0) > readAt) return true;
    }
    return false;
  }
}
