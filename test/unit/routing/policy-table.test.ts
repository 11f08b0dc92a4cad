import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSelectable, Member, type Endpoint, type MemberState } from '../../../broker/routing/member.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';
import { STRATEGY_NAMES } from '../../../broker/routing/strategies/index.js';
import { setState } from '../../helpers/set-state.js';

let generation = 0;
function member(id: number | undefined, policy: number, packets: boolean, http: boolean): Member {
  return new Member({
    id,
    policy,
    host: '10.0.0.1',
    packetPort: packets ? 2000 + (id ?? 0) : undefined,
    httpPort: http ? 8000 + (id ?? 0) : undefined,
    maxInflight: 1,
    session: false,
    tls: false,
    registeredAt: 0,
    generation: ++generation,
  });
}

describe('PolicyTable', () => {
  it('picks per protocol: an HTTP-only member is never a packet endpoint', () => {
    const table = new PolicyTable();
    const httpOnly = member(undefined, 111, false, true);
    table.add(httpOnly);
    assert.equal(table.pick(111, 'packets'), 'unknown-policy');
    assert.equal(table.pick(111, 'http'), httpOnly.http);
    assert.equal(table.knows(111, 'http'), true);
    assert.equal(table.knows(111, 'packets'), false);
  });

  it('a registered member replaces the one with its id; removal is idempotent', () => {
    const table = new PolicyTable();
    const first = member(7, 111, true, false);
    const again = member(7, 111, true, false);
    const removed: Array<Member> = [];
    table.observe({ removed: (m) => removed.push(m) });
    table.add(first);
    table.add(again);
    assert.deepEqual(removed, [first]);
    assert.equal(table.get(7), again);
    assert.equal(first.present, false);
    assert.equal(table.remove(first), false);
    assert.equal(table.remove(again), true);
    assert.equal(table.remove(again), false);
    assert.equal(table.pick(111, 'packets'), 'unknown-policy');
  });

  it('an HTTP endpoint leaves selection with its member\'s packet endpoint, not the other way round', () => {
    const table = new PolicyTable();
    const both = member(1, 111, true, true);
    table.add(both);
    setState(table, both.packets!, 'draining');
    assert.equal(table.pick(111, 'http'), 'no-live-server');
    setState(table, both.packets!, 'up');
    assert.equal(table.pick(111, 'http'), both.http);
    setState(table, both.http!, 'down');
    assert.equal(table.pick(111, 'packets'), both.packets);
    assert.equal(table.pick(111, 'http'), 'no-live-server');
  });

  it('least-outstanding sees the counts acquire and release keep', () => {
    const table = new PolicyTable('least-outstanding');
    const a = member(1, 111, true, false);
    const b = member(2, 111, true, false);
    table.add(a);
    table.add(b);
    table.acquire(a.packets!);
    assert.equal(table.pick(111, 'packets'), b.packets);
    table.acquire(b.packets!);
    table.acquire(b.packets!);
    assert.equal(table.pick(111, 'packets'), a.packets);
    table.release(b.packets!);
    table.release(b.packets!);
    table.release(a.packets!);
    assert.equal(a.packets!.outstanding + b.packets!.outstanding, 0);
  });

  for (const strategy of STRATEGY_NAMES) {
    it(`${strategy}: a pick is always a selectable endpoint of that policy and protocol (random changes)`, () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant('add' as const), id: fc.integer({ min: 0, max: 8 }), policy: fc.integer({ min: 1, max: 3 }), packets: fc.boolean(), http: fc.boolean() }),
        fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 8 }) }),
        fc.record({
          kind: fc.constant('state' as const),
          id: fc.integer({ min: 0, max: 8 }),
          http: fc.boolean(),
          state: fc.constantFrom<MemberState>('connecting', 'up', 'down', 'draining'),
        }),
        fc.record({ kind: fc.constant('pick' as const), policy: fc.integer({ min: 1, max: 3 }), http: fc.boolean() }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
          const table = new PolicyTable(strategy);
          const live = new Map<number, Member>();
          for (const o of ops) {
            if (o.kind === 'add') {
              const m = member(o.id, o.policy, o.packets, o.http);
              table.add(m);
              live.set(o.id, m);
            } else if (o.kind === 'remove') {
              const m = live.get(o.id);
              if (m !== undefined) table.remove(m);
              live.delete(o.id);
            } else if (o.kind === 'state') {
              const e = live.get(o.id)?.endpoint(o.http ? 'http' : 'packets');
              if (e !== undefined) setState(table, e, o.state);
            } else {
              const protocol = o.http ? 'http' : 'packets';
              const picked = table.pick(o.policy, protocol);
              const candidates = [...live.values()].filter((m) => m.policy === o.policy && m.endpoint(protocol) !== undefined);
              if (typeof picked === 'string') {
                const selectable = candidates.filter((m) => m.selectable(m.endpoint(protocol)!));
                assert.equal(selectable.length, 0, `nothing picked but ${selectable.length} selectable`);
                assert.equal(picked, candidates.length === 0 ? 'unknown-policy' : 'no-live-server');
              } else {
                const e: Endpoint = picked;
                assert.equal(e.protocol, protocol);
                assert.equal(e.member.endpoint(protocol), e, 'the member serves the protocol');
                assert.equal(e.member.policy, o.policy);
                assert.ok(live.get(e.member.id!) === e.member, 'a member in the table');
                assert.ok(isSelectable(e.state));
                if (protocol === 'http' && e.member.packets !== undefined) assert.ok(isSelectable(e.member.packets.state));
              }
            }
          }
        }),
        { numRuns: 300, seed: 3 },
      );
    });
  }
});
