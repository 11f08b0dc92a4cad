import { uniformWeights } from './smooth-weights.js';
import type { Selectable, SelectionStrategy, StrategyName } from './strategy.js';

/**
 * The members in the order they joined: the shared base of the strategies that pick by
 * position. Membership changes are rare (registrations), picks are per request, so removal
 * may be O(n) while every pick stays O(1).
 */
export abstract class OrderedMembers<T extends Selectable> implements SelectionStrategy<T> {
  abstract readonly name: StrategyName;
  protected readonly members: T[] = [];
  /** True while every member has the same weight. */
  protected uniform = true;

  get size(): number {
    return this.members.length;
  }

  add(member: T): void {
    if (this.members.includes(member)) return;
    this.members.push(member);
    this.membershipChanged();
  }

  remove(member: T): void {
    const index = this.members.indexOf(member);
    if (index === -1) return;
    this.members.splice(index, 1);
    this.removedAt(index, member);
    this.membershipChanged();
  }

  weightChanged(member: T): void {
    if (this.members.includes(member)) this.membershipChanged();
  }

  abstract pick(): T | undefined;

  outstandingChanged(): void {}

  /** Lets a subclass keep its cursor right when the member at `index` leaves. */
  protected removedAt(_index: number, _member: T): void {}

  /** After a member joined or left, or a weight changed (rare: registrations, the runtime API). */
  protected membershipChanged(): void {
    this.uniform = uniformWeights(this.members);
  }
}
