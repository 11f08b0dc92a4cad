import { FirstMember } from './first.js';
import { LastMember } from './last.js';
import { LeastOutstanding } from './least-outstanding.js';
import { RandomChoice } from './random.js';
import { RoundRobin } from './round-robin.js';
import type { Selectable, SelectionStrategy, StrategyName } from './strategy.js';

export * from './strategy.js';

/** A fresh strategy instance of the named kind, for one policy group. */
export function createStrategy<T extends Selectable>(name: StrategyName): SelectionStrategy<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobin<T>();
    case 'random':
      return new RandomChoice<T>();
    case 'first':
      return new FirstMember<T>();
    case 'last':
      return new LastMember<T>();
    case 'least-outstanding':
      return new LeastOutstanding<T>();
  }
}
