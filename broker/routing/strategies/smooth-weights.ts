import type { Selectable } from './strategy.js';

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): each pick adds every
 * candidate's weight to its current weight, takes the highest and subtracts the total from it.
 * Over any run of picks each member's share follows its weight, and the heavy member's turns are
 * spread out (weights 5, 1, 1 give a a b a c a a, not a a a a a b c). O(candidates) a pick: the
 * strategies use it only while their members' weights differ.
 */
export class SmoothWeights<T extends Selectable> {
  private readonly current = new Map<T, number>();

  /** The next of `candidates`, or undefined when there is none. */
  pick(candidates: Iterable<T>): T | undefined {
    let total = 0;
    let best: T | undefined;
    let bestCurrent = -Infinity;
    for (const member of candidates) {
      const current = (this.current.get(member) ?? 0) + member.weight;
      this.current.set(member, current);
      total += member.weight;
      if (current > bestCurrent) {
        best = member;
        bestCurrent = current;
      }
    }
    if (best !== undefined) this.current.set(best, bestCurrent - total);
    return best;
  }

  /** A member that left: its current weight goes with it. */
  forget(member: T): void {
    this.current.delete(member);
  }
}

/** True when every member has the same weight: the strategies' O(1) path applies. */
export function uniformWeights(members: Iterable<Selectable>): boolean {
  let first: number | undefined;
  for (const member of members) {
    if (first === undefined) first = member.weight;
    else if (member.weight !== first) return false;
  }
  return true;
}
