/**
 * Selection alone, in this process, no I/O: the time of one Registry.pick() plus the
 * outstanding-count bookkeeping a packet does, for policies of 3 to 1,000 servers, with every
 * strategy. It shows what the server-count cases cannot: whether picking depends on the size.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from '../../broker/registry/registry.js';
import { STRATEGY_NAMES } from '../../broker/routing/strategies/index.js';
import { SERVER_COUNTS } from './config.js';
import type { RunRecord } from './results.js';

const PICKS = 2_000_000;

export function selectionSuite(rounds: number): RunRecord[] {
  const records: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const strategy of STRATEGY_NAMES) {
      for (const count of SERVER_COUNTS) {
        const registry = new Registry(strategy);
        for (let i = 0; i < count; i++) {
          const { record } = registry.register({ type: 1, id: i, policy: 111, listenport: 1000 + i, maxInflight: 64, session: true }, '127.0.0.1');
          registry.setState(record, 'up');
        }
        const t0 = performance.now();
        for (let i = 0; i < PICKS; i++) {
          const pick = registry.pick(111);
          if ('server' in pick) {
            registry.addOutstanding(pick.server, 1);
            registry.addOutstanding(pick.server, -1);
          }
        }
        const ns = ((performance.now() - t0) * 1e6) / PICKS;
        records.push({ suite: 'selection', case: `${strategy}, ${count} servers`, round, rps: Math.round(1e9 / ns), errors: 0, note: `${ns.toFixed(1)} ns per pick` });
      }
    }
  }
  return records;
}
