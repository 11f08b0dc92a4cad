/**
 * A selection strategy only chooses: it holds the live members of one policy group and picks
 * one per request. Connections, health and retries live elsewhere. Every pick is O(1).
 */

/** What a strategy needs to know of a member. */
export interface Selectable {
  /** Requests sent to this member and not yet answered (in flight or queued). */
  outstanding: number;
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
}

export const STRATEGY_NAMES = ['round-robin', 'random', 'first', 'last', 'least-outstanding'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export function isStrategyName(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}
