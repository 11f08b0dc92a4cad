import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Upstream } from '../../broker/http/upstream.js';
import { applyEvent, applySnapshot, RegistryBroadcaster, registrySnapshot, type RegistryEvent } from '../../broker/cluster/registry-mirror.js';
import { HttpBackendTable } from '../../broker/http/backends.js';
import { ProtocolError } from '../../broker/protocol/error-codes.js';
import { Registry } from '../../broker/registry/registry.js';
import type { ServerState } from '../../broker/registry/server-record.js';

/** What the IPC channel does to a message: JSON there and back. */
const overIpc = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** A backend table on `registry`, as a worker's HTTP front end keeps one. */
function backendTable(registry: Registry): HttpBackendTable {
  const table = new HttpBackendTable(registry.strategy, 111, { createDispatcher: () => ({}) as Upstream, removed: () => undefined, stateChanged: () => undefined });
  for (const record of registry.servers()) table.added(record);
  registry.observe(table);
  return table;
}

/** Everything a worker can observe of a registry and its backend table, in a comparable form. */
function view(registry: Registry, table: HttpBackendTable) {
  const servers = [...registry.servers()]
    .map((r) => [r.id, r.policy, r.host, r.port, r.httpPort ?? null, r.maxInflight, r.session, r.tls, r.state])
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  const policies = [...registry.policies()]
    .map((g) => {
      // Round-robin over twice the members visits every selectable one.
      const selectable = new Set<number>();
      for (let i = 0; i < 2 * g.members.size; i++) {
        const picked = registry.pick(g.policy);
        if ('server' in picked) selectable.add(picked.server.id);
      }
      return [g.policy, [...g.members].map((r) => r.id).sort(), [...selectable].sort()];
    })
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  const backends = [...table.backends()].map((b) => `${b.policy} ${b.address} ${b.inSelection}`).sort();
  return { servers, policies, backends };
}

const STATES: ServerState[] = ['connecting', 'up', 'down', 'draining'];

type Op =
  | { op: 'register'; id: number; policy: number; host: string; http: boolean; session: boolean }
  | { op: 'remove'; pick: number }
  | { op: 'state'; pick: number; state: ServerState };

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

/** Applies one operation to the primary's registry, as the packet path would. */
function run(primary: Registry, op: Op): void {
  const servers = [...primary.servers()];
  if (op.op === 'register') {
    const reg = { type: 1 as const, id: op.id, policy: op.policy, listenport: 3000 + op.id, maxInflight: op.id, session: op.session, ...(op.http && { httpport: 8000 + op.id }) };
    try {
      primary.register(reg, op.host);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err; // the id is live on the other host: refused, nothing changed
    }
  } else if (servers.length > 0) {
    const record = servers[op.pick % servers.length]!;
    if (op.op === 'remove') primary.remove(record);
    else primary.setState(record, op.state);
  }
}

describe('registry mirror', () => {
  it('a mirror fed the event stream ends like the primary, whether it starts empty or from a snapshot taken midway', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), fc.nat(), (ops, joinAt) => {
        const primary = new Registry('round-robin');
        const primaryTable = backendTable(primary);
        const early = new Registry('round-robin');
        const earlyTable = backendTable(early);
        const late = new Registry('round-robin');
        const lateTable = backendTable(late);
        let lateJoined = false;
        primary.observe(
          new RegistryBroadcaster((event: RegistryEvent) => {
            applyEvent(early, overIpc(event));
            if (lateJoined) applyEvent(late, overIpc(event));
          }),
        );
        const join = joinAt % (ops.length + 1);
        ops.forEach((op, i) => {
          if (i === join) {
            applySnapshot(late, overIpc(registrySnapshot(primary)));
            lateJoined = true;
          }
          run(primary, op);
        });
        if (!lateJoined) applySnapshot(late, overIpc(registrySnapshot(primary)));
        const expected = view(primary, primaryTable);
        assert.deepEqual(view(early, earlyTable), expected);
        assert.deepEqual(view(late, lateTable), expected);
      }),
      { numRuns: 300, seed: 20261125 },
    );
  });

  it('a snapshot replaces what the mirror had (a worker that is welcomed again)', () => {
    const primary = new Registry();
    primary.register({ type: 1, id: 1, policy: 5, listenport: 1, maxInflight: 1, session: true, httpport: 81 }, 'h');
    const mirror = new Registry();
    mirror.register({ type: 1, id: 2, policy: 6, listenport: 2, maxInflight: 1, session: true }, 'h');
    const table = backendTable(mirror);
    applySnapshot(mirror, registrySnapshot(primary));
    assert.deepEqual([...mirror.servers()].map((r) => [r.id, r.policy, r.httpPort]), [[1, 5, 81]]);
    assert.deepEqual([...table.backends()].map((b) => b.address), ['h:81']);
  });

  it('a re-registration (removed, then added with the same id from elsewhere) replaces the mirrored record', () => {
    const primary = new Registry();
    const mirror = new Registry();
    primary.observe(new RegistryBroadcaster((event) => applyEvent(mirror, overIpc(event))));
    const { record } = primary.register({ type: 1, id: 7, policy: 1, listenport: 1, maxInflight: 1, session: true }, 'a');
    primary.setState(record, 'down');
    primary.register({ type: 1, id: 7, policy: 2, listenport: 9, maxInflight: 1, session: true }, 'b');
    assert.deepEqual([...mirror.servers()].map((r) => [r.id, r.policy, r.host, r.port, r.state]), [[7, 2, 'b', 9, 'connecting']]);
  });
});
