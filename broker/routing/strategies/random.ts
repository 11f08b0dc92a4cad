import { OrderedMembers } from './ordered-members.js';
import type { Selectable } from './strategy.js';

/** A random member: uniformly, or with different weights in proportion to them. */
export class RandomChoice<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'random' as const;
  /** Running sums of the weights, for a binary search; rebuilt after a change. */
  private sums: number[] = [];

  constructor(private readonly random: () => number = Math.random) {
    super();
  }

  pick(): T | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    if (this.uniform) return this.members[Math.floor(this.random() * n)];
    const at = this.random() * this.sums[n - 1]!;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sums[mid]! > at) hi = mid;
      else lo = mid + 1;
    }
    return this.members[lo];
  }

  protected override membershipChanged(): void {
    super.membershipChanged();
    let sum = 0;
    this.sums = this.uniform ? [] : this.members.map((m) => (sum += m.weight));
  }
}
