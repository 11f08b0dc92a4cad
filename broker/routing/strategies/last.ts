import { OrderedMembers } from './ordered-members.js';
import type { Selectable } from './strategy.js';

/** The latest-joined live member: new servers take the traffic, as in a rolling upgrade. */
export class LastMember<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'last' as const;

  pick(): T | undefined {
    return this.members[this.members.length - 1];
  }
}
