import { OrderedMembers } from './ordered-members.js';
import type { Selectable } from './strategy.js';

/** Each member in turn, so N requests spread within one of even over a stable group. */
export class RoundRobin<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'round-robin' as const;
  private cursor = 0;

  pick(): T | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    if (this.cursor >= n) this.cursor = 0;
    return this.members[this.cursor++];
  }

  protected override removedAt(index: number): void {
    // The member after the removed one slides into its slot: keep pointing at the same next member.
    if (index < this.cursor) this.cursor--;
  }
}
