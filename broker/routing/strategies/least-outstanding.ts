import { SmoothWeights, uniformWeights } from './smooth-weights.js';
import type { Selectable, SelectionStrategy } from './strategy.js';

/**
 * The member with the fewest outstanding requests. Members sit in buckets keyed by their
 * outstanding count and the lowest non-empty bucket is tracked; counts move by one at a time,
 * so both picking and updating are O(1) (the LFU-cache layout).
 *
 * With different weights, as nginx's least_conn: the fewest outstanding per unit of weight, ties
 * broken by smooth weighted round-robin among the tied (so an idle group is shared by weight);
 * a scan of the members, O(members) a pick.
 */
export class LeastOutstanding<T extends Selectable> implements SelectionStrategy<T> {
  readonly name = 'least-outstanding' as const;
  private readonly buckets = new Map<number, Set<T>>();
  private readonly members = new Set<T>();
  private min = 0;
  private uniform = true;
  private readonly weighted = new SmoothWeights<T>();

  get size(): number {
    return this.members.size;
  }

  add(member: T): void {
    if (this.members.has(member)) return;
    this.members.add(member);
    this.bucket(member.outstanding).add(member);
    if (this.members.size === 1 || member.outstanding < this.min) this.min = member.outstanding;
    this.uniform = uniformWeights(this.members);
  }

  remove(member: T): void {
    if (!this.members.delete(member)) return;
    this.leave(member.outstanding, member);
    if (this.buckets.get(this.min) === undefined) this.recomputeMin();
    this.weighted.forget(member);
    this.uniform = uniformWeights(this.members);
  }

  weightChanged(member: T): void {
    if (this.members.has(member)) this.uniform = uniformWeights(this.members);
  }

  pick(): T | undefined {
    if (!this.uniform) return this.weighted.pick(this.leastPerWeight());
    const lowest = this.buckets.get(this.min);
    if (lowest === undefined) return undefined;
    // Sets iterate in insertion order: ties go to the member that has waited longest at this count.
    return lowest.values().next().value;
  }

  outstandingChanged(member: T, before: number): void {
    if (!this.members.has(member)) return;
    const now = member.outstanding;
    this.leave(before, member);
    this.bucket(now).add(member);
    if (now < this.min) this.min = now;
    else if (before === this.min && this.buckets.get(before) === undefined) this.min = now;
  }

  /** The members with the fewest outstanding per unit of weight (a/wa < b/wb compared as a·wb < b·wa). */
  private leastPerWeight(): T[] {
    let least: T[] = [];
    for (const member of this.members) {
      const first = least[0];
      const diff = first === undefined ? -1 : member.outstanding * first.weight - first.outstanding * member.weight;
      if (diff < 0) least = [member];
      else if (diff === 0) least.push(member);
    }
    return least;
  }

  private bucket(count: number): Set<T> {
    let set = this.buckets.get(count);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(count, set);
    }
    return set;
  }

  private leave(count: number, member: T): void {
    const set = this.buckets.get(count);
    if (set === undefined) return;
    set.delete(member);
    if (set.size === 0) this.buckets.delete(count);
  }

  /** Only on removal, which is rare: a scan over the distinct counts. */
  private recomputeMin(): void {
    let min = Infinity;
    for (const count of this.buckets.keys()) if (count < min) min = count;
    this.min = min === Infinity ? 0 : min;
  }
}
