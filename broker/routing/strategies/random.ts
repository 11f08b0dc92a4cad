import { OrderedMembers } from './ordered-members.js';
import type { Selectable } from './strategy.js';

/** A uniformly random member. */
export class RandomChoice<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'random' as const;

  constructor(private readonly random: () => number = Math.random) {
    super();
  }

  pick(): T | undefined {
    const n = this.members.length;
    return n === 0 ? undefined : this.members[Math.floor(this.random() * n)];
  }
}
