import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEvent, applySnapshot, RegistryBroadcaster, registrySnapshot, type RegistryEvent } from '../../broker/cluster/registry-mirror.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import { followStore } from '../../broker/registry/membership.js';
import { MemoryStore } from '../../broker/registry/memory-store.js';
import type { MemberState } from '../../broker/routing/member.js';
import { PolicyTable } from '../../broker/routing/policy-table.js';

/** What the IPC channel does to a message: JSON there and back. */
const overIpc = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The primary: registrations in a store, its table following it. */
class Primary {
  readonly store = new MemoryStore();
  readonly table = new PolicyTable('round-robin');
  constructor() {
    followStore(this.store, this.table);
  }
  register(id: number, policy: number, host: string, http: boolean, session: boolean, port = 3000 + id): void {
    try {
      // The registrar's rule (id-claim.ts): an id live from another host is not taken.
      const old = this.table.get(id);
      if (old !== undefined && old.host !== host && old.packets?.state !== 'down') throw new ProtocolError(ErrorCode.DUPLICATE_ID, `server id ${id} is live`);
      this.store.register({ id, policy, host, packetPort: port, httpPort: http ? 8000 + id : undefined, maxInflight: id, session, tls: false, owner: 'test' });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err; // the id is live on the other host: refused, nothing changed
    }
  }
}

/** Everything a worker can observe of a table, in a comparable form. */
function view(table: PolicyTable) {
  const servers = [...table.endpoints('packets')]
    .map((e) => {
      const m = e.member;
      return [m.id!, m.policy, m.host, e.port, m.info.httpPort ?? null, m.info.maxInflight, m.info.session, m.info.tls, e.state];
    })
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  const policies = [...table.policies()]
    .map((g) => {
      // Round-robin over twice the members visits every selectable one.
      const selectable = new Set<number>();
      for (let i = 0; i < 2 * g.members.size; i++) {
        const picked = table.pick(g.policy, 'packets');
        if (typeof picked !== 'string') selectable.add(picked.member.id!);
      }
      return [g.policy, [...g.members].map((m) => m.id!).sort(), [...selectable].sort()];
    })
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  const backends = [...table.endpoints('http')].map((e) => `${e.member.policy} ${e.address} ${e.inSelection}`).sort();
  return { servers, policies, backends };
}

const STATES: MemberState[] = ['connecting', 'up', 'down', 'draining'];

type Op =
  | { op: 'register'; id: number; policy: number; host: string; http: boolean; session: boolean }
  | { op: 'remove'; pick: number }
  | { op: 'state'; pick: number; state: MemberState };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('register' as const),
    id: fc.integer({ min: 1, max: 8 }),
    policy: fc.integer({ min: 1, max: 3 }),
    host: fc.constantFrom('10.0.0.1', '10.0.0.2'),
    http: fc.boolean(),
    session: fc.boolean(),
  }),
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('state' as const), pick: fc.nat(), state: fc.constantFrom(...STATES) }),
);

/** Applies one operation to the primary, as the packet path would. */
function run(primary: Primary, op: Op): void {
  const members = [...primary.table.members()];
  if (op.op === 'register') {
    primary.register(op.id, op.policy, op.host, op.http, op.session);
  } else if (members.length > 0) {
    const member = members[op.pick % members.length]!;
    if (op.op === 'remove') void primary.store.remove(member.id!, member.info.generation, { kind: 'left', detail: 'test' });
    else primary.table.setState(member.packets!, op.state);
  }
}

describe('registry mirror', () => {
  it('a mirror fed the event stream ends like the primary, whether it starts empty or from a snapshot taken midway', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), fc.nat(), (ops, joinAt) => {
        const primary = new Primary();
        const early = new PolicyTable('round-robin');
        const late = new PolicyTable('round-robin');
        let lateJoined = false;
        primary.table.observe(
          new RegistryBroadcaster((event: RegistryEvent) => {
            applyEvent(early, overIpc(event));
            if (lateJoined) applyEvent(late, overIpc(event));
          }),
        );
        const join = joinAt % (ops.length + 1);
        ops.forEach((op, i) => {
          if (i === join) {
            applySnapshot(late, overIpc(registrySnapshot(primary.table)));
            lateJoined = true;
          }
          run(primary, op);
        });
        if (!lateJoined) applySnapshot(late, overIpc(registrySnapshot(primary.table)));
        const expected = view(primary.table);
        assert.deepEqual(view(early), expected);
        assert.deepEqual(view(late), expected);
      }),
      { numRuns: 300, seed: 20261125 },
    );
  });

  it('a snapshot replaces what the mirror had (a worker that is welcomed again)', () => {
    const primary = new Primary();
    primary.store.register({ id: 1, policy: 5, host: 'h', packetPort: 1, httpPort: 81, maxInflight: 1, session: true, tls: false, owner: 't' });
    const other = new Primary();
    other.register(2, 6, 'h', false, true);
    const mirror = other.table;
    applySnapshot(mirror, registrySnapshot(primary.table));
    assert.deepEqual([...mirror.members()].map((m) => [m.id, m.policy, m.info.httpPort]), [[1, 5, 81]]);
    assert.deepEqual([...mirror.endpoints('http')].map((e) => e.address), ['h:81']);
  });

  it('a re-registration (the same id from elsewhere) replaces the mirrored record', () => {
    const primary = new Primary();
    const mirror = new PolicyTable();
    primary.table.observe(new RegistryBroadcaster((event) => applyEvent(mirror, overIpc(event))));
    primary.register(7, 1, 'a', false, true, 1);
    primary.table.setState(primary.table.get(7)!.packets!, 'down');
    primary.register(7, 2, 'b', false, true, 9);
    assert.deepEqual([...mirror.endpoints('packets')].map((e) => [e.member.id, e.member.policy, e.member.host, e.port, e.state]), [[7, 2, 'b', 9, 'connecting']]);
  });

  it('the same server registering again at the same endpoints keeps the mirrored member (and its HTTP endpoint)', () => {
    const primary = new Primary();
    const mirror = new PolicyTable();
    primary.table.observe(new RegistryBroadcaster((event) => applyEvent(mirror, overIpc(event))));
    primary.register(7, 1, 'a', true, true);
    primary.table.setState(primary.table.get(7)!.packets!, 'up');
    const member = mirror.get(7)!;
    primary.register(7, 1, 'a', true, true);
    assert.equal(mirror.get(7), member);
    assert.equal(member.info.generation, primary.table.get(7)!.info.generation);
    assert.equal(member.packets!.state, 'up');
    // The removal names the new generation, and the mirror follows it.
    primary.table.remove(primary.table.get(7)!);
    assert.equal(mirror.get(7), undefined);
  });
});
