/**
 * Selection alone, in this process, no I/O: the time of one PolicyTable.pick() plus the
 * outstanding-count bookkeeping a packet does, for policies of 3 to 1,000 servers, with every
 * strategy. It shows what the server-count cases cannot: whether picking depends on the size.
 */
import { performance } from 'node:perf_hooks';
import { Member } from '../../broker/routing/member.js';
import { PolicyTable } from '../../broker/routing/policy-table.js';
import { STRATEGY_NAMES } from '../../broker/routing/strategies/index.js';
import { SERVER_COUNTS } from './config.js';
import type { RunRecord } from './results.js';
import { CONNECTED, Liveness } from '../../broker/routing/liveness.js';

const PICKS = 2_000_000;

export function selectionSuite(rounds: number): RunRecord[] {
  const records: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const strategy of STRATEGY_NAMES) {
      for (const count of SERVER_COUNTS) {
        const table = new PolicyTable(strategy);
        const liveness = new Liveness(table);
        for (let i = 0; i < count; i++) {
          const member = new Member({ id: i, policy: 111, host: '127.0.0.1', packetPort: 1000 + i, httpPort: undefined, maxInflight: 64, session: true, tls: false, registeredAt: 0, generation: i + 1 });
          table.add(member);
          liveness.report(member.packets!, CONNECTED);
        }
        const t0 = performance.now();
        for (let i = 0; i < PICKS; i++) {
          const pick = table.pick(111, 'packets');
          if (typeof pick !== 'string') {
            table.acquire(pick);
            table.release(pick);
          }
        }
        const ns = ((performance.now() - t0) * 1e6) / PICKS;
        records.push({ suite: 'selection', case: `${strategy}, ${count} servers`, round, rps: Math.round(1e9 / ns), errors: 0, note: `${ns.toFixed(1)} ns per pick` });
      }
    }
  }
  return records;
}
