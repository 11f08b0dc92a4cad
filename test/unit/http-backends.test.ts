import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Upstream } from '../../broker/http/upstream.js';
import { HttpBackendTable, type HttpBackend } from '../../broker/http/backends.js';
import { followStore } from '../../broker/registry/membership.js';
import { MemoryStore } from '../../broker/registry/memory-store.js';
import type { MemberState as ServerState } from '../../broker/routing/member.js';
import { PolicyTable } from '../../broker/routing/policy-table.js';
import type { StrategyName } from '../../broker/routing/strategies/index.js';
import type { Registration } from '../../broker/protocol/packet-types.js';

/** A table whose pools are stand-ins, recording what it tells its owner. */
function table(strategy: StrategyName = 'round-robin') {
  const log: string[] = [];
  const t = new HttpBackendTable(strategy, 111, {
    createDispatcher: (b) => {
      log.push(`open ${b.address}`);
      return {} as Upstream;
    },
    removed: (b) => log.push(`removed ${b.address}`),
    stateChanged: (b, from: ServerState) => log.push(`${b.address} ${from}->${b.state}`),
  });
  return { t, log };
}

/** The broker's registrations: a store, and the policy table following it. */
class Registry {
  readonly store = new MemoryStore();
  readonly table = new PolicyTable();
  constructor() {
    followStore(this.store, this.table);
  }
  observe(t: HttpBackendTable): void {
    this.table.observe(t);
  }
  register(reg: Registration, host: string) {
    const { entry } = this.store.registerNow({ id: reg.id, policy: reg.policy, host, packetPort: reg.listenport, httpPort: reg.httpport, maxInflight: 1, session: true, tls: false, owner: 't' });
    const member = this.table.get(entry.id)!;
    return { record: member.packets!, member };
  }
  setState(record: { member: unknown } & Parameters<PolicyTable['setState']>[0], state: ServerState): void {
    this.table.setState(record, state);
  }
  remove(record: Parameters<PolicyTable['setState']>[0]): void {
    this.table.remove(record.member);
  }
}

const reg = (id: number, policy: number, httpport?: number): Registration => ({ type: 1, id, policy, listenport: 2000 + id, maxInflight: 1, session: true, ...(httpport === undefined ? {} : { httpport }) });

function picks(t: HttpBackendTable, policy: number, n: number): string[] {
  return Array.from({ length: n }, () => t.pick(policy)?.address ?? '-');
}

describe('HttpBackendTable: static backends', () => {
  it('groups by policy (default when none is given) and round-robins per request', () => {
    const { t, log } = table();
    t.addStatic({ host: '127.0.0.1', port: 8001 });
    t.addStatic({ host: '127.0.0.1', port: 8002 });
    t.addStatic({ host: '::1', port: 8003, policy: 222 });
    assert.deepEqual(log, ['open 127.0.0.1:8001', 'open 127.0.0.1:8002', 'open [::1]:8003']);
    assert.deepEqual(picks(t, 111, 4), ['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8001', '127.0.0.1:8002']);
    assert.deepEqual(picks(t, 222, 2), ['[::1]:8003', '[::1]:8003']);
    assert.equal(t.pick(333), undefined);
    assert.equal(t.knows(333), false);
    assert.equal([...t.backends()][2]!.origin, 'http://[::1]:8003');
  });

  it('takes a down backend out of selection and puts it back when it is up', () => {
    const { t, log } = table();
    const a = t.addStatic({ host: 'a', port: 1 });
    t.addStatic({ host: 'b', port: 2 });
    t.setState(a, 'down');
    assert.deepEqual(picks(t, 111, 3), ['b:2', 'b:2', 'b:2']);
    t.setState(a, 'up');
    assert.deepEqual(new Set(picks(t, 111, 4)), new Set(['a:1', 'b:2']));
    t.setState(a, 'up');
    assert.deepEqual(log.slice(2), ['a:1 connecting->down', 'a:1 down->up']);
    const bOnly = table();
    const only = bOnly.t.addStatic({ host: 'c', port: 3 });
    bOnly.t.setState(only, 'down');
    assert.equal(bOnly.t.pick(111), undefined);
    assert.equal(bOnly.t.knows(111), true, 'a policy with only down servers is known: 503, not 404');
  });

  it('least-outstanding follows the in-flight counts', () => {
    const { t } = table('least-outstanding');
    const a = t.addStatic({ host: 'a', port: 1 });
    const b = t.addStatic({ host: 'b', port: 2 });
    t.addOutstanding(a, 1);
    assert.equal(t.pick(111), b);
    t.addOutstanding(b, 1);
    t.addOutstanding(b, 1);
    assert.equal(t.pick(111), a);
    t.addOutstanding(b, -1);
    t.addOutstanding(b, -1);
    assert.equal(t.pick(111), b);
  });
});

describe('HttpBackendTable: registered servers', () => {
  it('follows the registry: servers with an httpport join, leave, and are selectable only while their record is', () => {
    const registry = new Registry();
    const { t, log } = table();
    registry.observe(t);
    const { record: r100 } = registry.register(reg(100, 111, 9100), '127.0.0.1');
    registry.register(reg(101, 111), '127.0.0.1');
    const { record: r102 } = registry.register(reg(102, 111, 9102), '127.0.0.2');
    assert.deepEqual(log, ['open 127.0.0.1:9100', 'open 127.0.0.2:9102']);
    const backends = [...t.backends()];
    assert.deepEqual(backends.map((b: HttpBackend) => [b.id, b.source, b.state]), [[100, 'registered', 'connecting'], [102, 'registered', 'connecting']]);
    assert.deepEqual(picks(t, 111, 2), ['127.0.0.1:9100', '127.0.0.2:9102']);
    registry.setState(r100, 'draining');
    assert.deepEqual(picks(t, 111, 2), ['127.0.0.2:9102', '127.0.0.2:9102']);
    registry.setState(r100, 'up');
    assert.equal(picks(t, 111, 2).includes('127.0.0.1:9100'), true);
    // HTTP down does not touch the packet state.
    t.setState(backends[1]!, 'down');
    assert.equal(r102.state, 'connecting');
    registry.remove(r100);
    registry.remove(r102);
    assert.deepEqual(log.slice(-2), ['removed 127.0.0.1:9100', 'removed 127.0.0.2:9102']);
    assert.equal(t.knows(111), false);
    assert.equal(backends[0]!.present, false);
  });

  it('a server registering again replaces its backend', () => {
    const registry = new Registry();
    const { t, log } = table();
    registry.observe(t);
    registry.register(reg(100, 111, 9100), '127.0.0.1');
    registry.register(reg(100, 111, 9200), '127.0.0.1');
    // The new one joins before the old one leaves, so what the old one held may go to it.
    assert.deepEqual(log, ['open 127.0.0.1:9100', 'open 127.0.0.1:9200', 'removed 127.0.0.1:9100']);
    assert.deepEqual([...t.backends()].map((b) => b.port), [9200]);
  });

  it('clear() removes everything', () => {
    const { t } = table();
    t.addStatic({ host: 'a', port: 1 });
    t.addStatic({ host: 'b', port: 2, policy: 5 });
    t.clear();
    assert.deepEqual([...t.backends()], []);
    assert.equal(t.knows(111), false);
  });
});
