import { OrderedMembers } from './ordered-members.js';
import { SmoothWeights } from './smooth-weights.js';
import type { Selectable } from './strategy.js';

/**
 * Each member in turn, so N requests spread within one of even over a stable group; with
 * different weights, nginx's smooth weighted round-robin (shares follow the weights, no bursts
 * to the heavy member).
 */
export class RoundRobin<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'round-robin' as const;
  private cursor = 0;
  private readonly weighted = new SmoothWeights<T>();

  pick(): T | undefined {
    if (!this.uniform) return this.weighted.pick(this.members);
    const n = this.members.length;
    if (n === 0) return undefined;
    if (this.cursor >= n) this.cursor = 0;
    return this.members[this.cursor++];
  }

  protected override removedAt(index: number, member: T): void {
    // The member after the removed one slides into its slot: keep pointing at the same next member.
    if (index < this.cursor) this.cursor--;
    this.weighted.forget(member);
  }
}
