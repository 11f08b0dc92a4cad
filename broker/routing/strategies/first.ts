import { OrderedMembers } from './ordered-members.js';
import type { Selectable } from './strategy.js';

/** The earliest-joined live member: active/standby, the others take over when it fails. */
export class FirstMember<T extends Selectable> extends OrderedMembers<T> {
  readonly name = 'first' as const;

  pick(): T | undefined {
    return this.members[0];
  }
}
