import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Registry } from '../../broker/registry/registry.js';
import { isSelectable, type ServerRecord, type ServerState } from '../../broker/registry/server-record.js';
import { STRATEGY_NAMES } from '../../broker/routing/strategies/index.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import type { Registration } from '../../broker/protocol/packet-types.js';

const reg = (id: number, policy: number, extra: Partial<Registration> = {}): Registration => ({
  type: 1,
  id,
  policy,
  listenport: 2000 + id,
  maxInflight: 1,
  session: false,
  ...extra,
});

/** A clock that only moves when told. */
function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function picked(registry: Registry, policy: number): ServerRecord {
  const result = registry.pick(policy);
  assert.ok('server' in result, `expected a server for policy ${policy}, got ${JSON.stringify(result)}`);
  return result.server;
}

describe('Registry: registration', () => {
  it('creates a record from the registration, connecting and selectable', () => {
    const clock = fakeClock(5_000);
    const registry = new Registry('round-robin', clock.now);
    const { record, replaced } = registry.register(reg(100, 111, { maxInflight: 64, session: true, httpport: 8080 }), '10.0.0.1');
    assert.equal(replaced, undefined);
    const { id, policy, host, port, maxInflight, httpPort, session, registeredAt, state, outstanding, served, failures, lastSeenAt } = record;
    assert.deepEqual({ id, policy, host, port, maxInflight, httpPort, session, registeredAt, state, outstanding, served, failures, lastSeenAt }, {
      id: 100,
      policy: 111,
      host: '10.0.0.1',
      port: 2100,
      maxInflight: 64,
      httpPort: 8080,
      session: true,
      registeredAt: 5_000,
      state: 'connecting',
      outstanding: 0,
      served: 0,
      failures: 0,
      lastSeenAt: 5_000,
    });
    assert.equal(registry.get(100), record);
    assert.equal(registry.size, 1);
    assert.equal(registry.strategy, 'round-robin');
    assert.equal(isSelectable(record.state), true);
    assert.equal(picked(registry, 111), record);
  });

  it('uses round-robin and Date.now by default', () => {
    const registry = new Registry();
    assert.equal(registry.strategy, 'round-robin');
    const before = Date.now();
    const { record } = registry.register(reg(1, 1), 'h');
    assert.ok(record.registeredAt >= before && record.registeredAt <= Date.now());
  });

  it('groups servers by policy', () => {
    const registry = new Registry();
    registry.register(reg(1, 111), 'h');
    registry.register(reg(2, 222), 'h');
    registry.register(reg(3, 111), 'h');
    const groups = new Map([...registry.policies()].map((g) => [g.policy, [...g.members].map((r) => r.id).sort()]));
    assert.deepEqual(groups, new Map([[111, [1, 3]], [222, [2]]]));
    for (const g of registry.policies()) assert.equal(g.selector.size, g.members.size);
    assert.deepEqual([...registry.servers()].map((r) => r.id).sort(), [1, 2, 3]);
    assert.equal(registry.size, 3);
  });

  it('re-registering the same id from the same host replaces the record', () => {
    const clock = fakeClock();
    const registry = new Registry('round-robin', clock.now);
    const old = registry.register(reg(100, 111), '10.0.0.1').record;
    registry.setState(old, 'up');
    registry.addOutstanding(old, 1);
    clock.advance(50);
    const { record, replaced } = registry.register(reg(100, 111, { listenport: 3000 }), '10.0.0.1');
    assert.equal(replaced, old);
    assert.notEqual(record, old);
    assert.equal(record.port, 3000);
    assert.equal(record.outstanding, 0);
    assert.equal(record.registeredAt, old.registeredAt + 50);
    assert.equal(registry.get(100), record);
    assert.equal(registry.size, 1);
    for (let i = 0; i < 5; i++) assert.equal(picked(registry, 111), record);
    // The old record is gone for good: removing it again does nothing.
    assert.equal(registry.remove(old), false);
    assert.equal(registry.get(100), record);
  });

  it('a re-registration may move a server to another policy', () => {
    const registry = new Registry();
    const old = registry.register(reg(100, 111), 'h').record;
    const { record, replaced } = registry.register(reg(100, 222), 'h');
    assert.equal(replaced, old);
    assert.deepEqual(registry.pick(111), { missing: 'unknown-policy' });
    assert.equal(picked(registry, 222), record);
    assert.deepEqual([...registry.policies()].map((g) => g.policy), [222]);
  });

  it('refuses the id of a live server from another host with DUPLICATE_ID', () => {
    for (const state of ['connecting', 'up', 'draining'] as const) {
      const registry = new Registry();
      const old = registry.register(reg(100, 111), '10.0.0.1').record;
      registry.setState(old, state);
      assert.throws(
        () => registry.register(reg(100, 111), '10.0.0.2'),
        (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.DUPLICATE_ID && /100/.test(err.message),
        state,
      );
      // Nothing changed.
      assert.equal(registry.get(100), old);
      assert.equal(registry.size, 1);
      assert.equal(old.state, state);
    }
  });

  it('lets another host take the id of a server that is down', () => {
    const registry = new Registry();
    const old = registry.register(reg(100, 111), '10.0.0.1').record;
    registry.setState(old, 'down');
    assert.deepEqual(registry.pick(111), { missing: 'no-live-server' });
    const { record, replaced } = registry.register(reg(100, 111), '10.0.0.2');
    assert.equal(replaced, old);
    assert.equal(record.host, '10.0.0.2');
    assert.equal(picked(registry, 111), record);
  });
});

describe('Registry: selection', () => {
  it('an unknown policy gives unknown-policy, a policy with every server down gives no-live-server', () => {
    const registry = new Registry();
    assert.deepEqual(registry.pick(111), { missing: 'unknown-policy' });
    const a = registry.register(reg(1, 111), 'h').record;
    const b = registry.register(reg(2, 111), 'h').record;
    assert.deepEqual(registry.pick(222), { missing: 'unknown-policy' });
    registry.setState(a, 'down');
    registry.setState(b, 'draining');
    assert.deepEqual(registry.pick(111), { missing: 'no-live-server' });
  });

  it('pick returns only servers of the asked policy', () => {
    const registry = new Registry();
    for (let id = 0; id < 9; id++) registry.register(reg(id, [111, 222, 333][id % 3]!), 'h');
    for (const policy of [111, 222, 333]) {
      const seen = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const server = picked(registry, policy);
        assert.equal(server.policy, policy);
        seen.add(server.id);
      }
      assert.equal(seen.size, 3, 'round-robin reaches every server of the policy');
    }
  });

  it('setState down takes a server out of selection and up brings it back', () => {
    const registry = new Registry();
    const a = registry.register(reg(1, 111), 'h').record;
    const b = registry.register(reg(2, 111), 'h').record;
    registry.setState(a, 'up');
    registry.setState(b, 'up');
    registry.setState(a, 'down');
    assert.equal(a.state, 'down');
    for (let i = 0; i < 5; i++) assert.equal(picked(registry, 111), b);
    registry.setState(a, 'up');
    const ids = new Set(Array.from({ length: 4 }, () => picked(registry, 111).id));
    assert.deepEqual([...ids].sort(), [1, 2]);
    // Setting the same state twice is harmless.
    registry.setState(a, 'up');
    registry.setState(b, 'connecting');
    const group = [...registry.policies()][0]!;
    assert.equal(group.selector.size, 2);
    registry.setState(a, 'draining');
    registry.setState(a, 'down');
    assert.equal(group.selector.size, 1);
    assert.equal(group.members.size, 2);
  });

  it('setState on a record no longer registered only changes its state', () => {
    const registry = new Registry();
    const old = registry.register(reg(1, 111), 'h').record;
    registry.register(reg(2, 111), 'h');
    registry.setState(old, 'down');
    assert.equal(registry.remove(old), true);
    registry.setState(old, 'up');
    assert.equal(old.state, 'up');
    for (let i = 0; i < 4; i++) assert.equal(picked(registry, 111).id, 2);
  });

  it('remove deletes empty groups', () => {
    const registry = new Registry();
    const a = registry.register(reg(1, 111), 'h').record;
    const b = registry.register(reg(2, 111), 'h').record;
    assert.equal(registry.remove(a), true);
    assert.equal(registry.remove(a), false);
    assert.equal(picked(registry, 111), b);
    assert.equal(registry.remove(b), true);
    assert.deepEqual(registry.pick(111), { missing: 'unknown-policy' });
    assert.deepEqual([...registry.policies()], []);
    assert.equal(registry.size, 0);
    assert.equal(registry.get(1), undefined);
  });

  it('addOutstanding keeps least-outstanding right', () => {
    const registry = new Registry('least-outstanding');
    const [a, b, c] = [1, 2, 3].map((id) => registry.register(reg(id, 111), 'h').record) as [ServerRecord, ServerRecord, ServerRecord];
    assert.equal(picked(registry, 111), a);
    registry.addOutstanding(a, 1);
    assert.equal(picked(registry, 111), b);
    registry.addOutstanding(b, 1);
    registry.addOutstanding(c, 1);
    registry.addOutstanding(c, 1);
    assert.equal(picked(registry, 111), a);
    registry.addOutstanding(a, 1);
    assert.equal(picked(registry, 111), b);
    registry.addOutstanding(b, -1);
    assert.equal(b.outstanding, 0);
    assert.equal(picked(registry, 111), b);
    registry.setState(b, 'down');
    registry.addOutstanding(b, 1); // while out of selection
    assert.equal(picked(registry, 111).outstanding, 2);
    registry.addOutstanding(c, -1);
    registry.addOutstanding(c, -1);
    assert.equal(picked(registry, 111), c);
    registry.setState(b, 'up');
    assert.equal(picked(registry, 111), c);
    registry.addOutstanding(c, 1);
    registry.addOutstanding(c, 1);
    assert.equal(picked(registry, 111), b);
    // Outstanding requests of a removed record can still be counted down.
    registry.remove(b);
    registry.addOutstanding(b, -1);
    assert.equal(b.outstanding, 0);
    assert.equal(picked(registry, 111), a);
  });

  for (const strategy of STRATEGY_NAMES) {
    it(`${strategy}: under random registrations, removals and state changes, every pick is a selectable server of the policy`, () => {
      type Op =
        | { kind: 'register'; id: number; policy: number; host: string }
        | { kind: 'remove' | 'inc' | 'dec'; id: number }
        | { kind: 'state'; id: number; state: ServerState }
        | { kind: 'pick'; policy: number };
      const POLICIES = [111, 222, 333];
      const id = fc.integer({ min: 1, max: 8 });
      const policy = fc.constantFrom(...POLICIES);
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('register' as const), id, policy, host: fc.constantFrom('h1', 'h2') }),
        fc.record({ kind: fc.constantFrom('remove' as const, 'inc' as const, 'dec' as const), id }),
        fc.record({ kind: fc.constant('state' as const), id, state: fc.constantFrom<ServerState>('connecting', 'up', 'down', 'draining') }),
        fc.record({ kind: fc.constant('pick' as const), policy }),
        fc.record({ kind: fc.constant('pick' as const), policy }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
          const registry = new Registry(strategy, () => 0);
          /** The model: id → record, as the registry should hold it. */
          const model = new Map<number, ServerRecord>();
          for (const o of ops) {
            switch (o.kind) {
              case 'register': {
                const existing = model.get(o.id);
                if (existing !== undefined && existing.host !== o.host && existing.state !== 'down') {
                  assert.throws(() => registry.register(reg(o.id, o.policy), o.host), (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.DUPLICATE_ID);
                } else {
                  const { record, replaced } = registry.register(reg(o.id, o.policy), o.host);
                  assert.equal(replaced, existing);
                  model.set(o.id, record);
                }
                break;
              }
              case 'remove': {
                const existing = model.get(o.id);
                if (existing !== undefined) {
                  assert.equal(registry.remove(existing), true);
                  model.delete(o.id);
                }
                break;
              }
              case 'inc':
              case 'dec': {
                const existing = model.get(o.id);
                if (existing !== undefined && (o.kind === 'inc' || existing.outstanding > 0)) registry.addOutstanding(existing, o.kind === 'inc' ? 1 : -1);
                break;
              }
              case 'state': {
                const existing = model.get(o.id);
                if (existing !== undefined) registry.setState(existing, o.state);
                break;
              }
              case 'pick': {
                const result = registry.pick(o.policy);
                const ofPolicy = [...model.values()].filter((r) => r.policy === o.policy);
                const live = ofPolicy.filter((r) => isSelectable(r.state));
                if ('server' in result) {
                  const server = result.server;
                  assert.equal(server.policy, o.policy);
                  assert.ok(isSelectable(server.state), `picked a server in state ${server.state}`);
                  assert.equal(registry.get(server.id), server, 'picked a record no longer registered');
                  if (strategy === 'least-outstanding') assert.equal(server.outstanding, Math.min(...live.map((r) => r.outstanding)));
                } else if (ofPolicy.length === 0) {
                  assert.deepEqual(result, { missing: 'unknown-policy' });
                } else {
                  assert.deepEqual(result, { missing: 'no-live-server' });
                  assert.equal(live.length, 0, 'no-live-server while a server was selectable');
                }
                break;
              }
            }
            // The registry's own view agrees with the model after every step.
            assert.equal(registry.size, model.size);
            for (const [serverId, record] of model) assert.equal(registry.get(serverId), record);
            const groups = [...registry.policies()];
            assert.deepEqual(groups.map((g) => g.policy).sort(), [...new Set([...model.values()].map((r) => r.policy))].sort());
            for (const g of groups) {
              assert.ok(g.members.size > 0);
              assert.equal(g.selector.size, [...g.members].filter((r) => isSelectable(r.state)).length);
            }
          }
        }),
        { numRuns: 300, seed: 41 },
      );
    });
  }
});
