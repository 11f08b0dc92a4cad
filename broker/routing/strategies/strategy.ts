/**
 * A selection strategy only chooses: it holds the live members of one policy group and picks
 * one per request. Connections, health and retries live elsewhere. While the members' weights
 * are all the same (the usual case) every pick is O(1); with different weights round-robin,
 * random and least-outstanding follow them (O(members) or O(log members) a pick), and first and
 * last ignore them.
 */

/** What a strategy needs to know of a member. */
export interface Selectable {
  /** Requests sent to this member and not yet answered (in flight or queued). */
  readonly outstanding: number;
  /** Its share relative to the others' (1-1000; 1 for all: equal shares). */
  readonly weight: number;
}

export interface SelectionStrategy<T extends Selectable> {
  readonly name: StrategyName;
  readonly size: number;
  add(member: T): void;
  remove(member: T): void;
  /** The member for the next request, or undefined when there is none. */
  pick(): T | undefined;
  /** Called after `member.outstanding` moved by one from `before`. */
  outstandingChanged(member: T, before: number): void;
  /** Called after `member.weight` changed. */
  weightChanged(member: T): void;
}

export const STRATEGY_NAMES = ['round-robin', 'random', 'first', 'last', 'least-outstanding'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export function isStrategyName(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}
