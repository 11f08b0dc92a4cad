/**
 * A --workers worker's table follows the primary's store through a RelayedStore fed over IPC
 * (the store's list() once, then every event), with followStore() as any broker's table does,
 * and takes the primary's view of each registered server's packet link. Whatever the primary
 * does, and whenever the worker joins, the worker's table ends like the primary's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReadOnlyStoreError, RelayedStore } from '../../../broker/registry/relayed-store.js';
import type { LinkState } from '../../../broker/cluster/messages.js';
import { ProtocolError } from '../../../broker/protocol/error-codes.js';
import { followStore } from '../../../broker/registry/membership.js';
import { MemoryStore } from '../../../broker/registry/memory-store.js';
import type { MemberState } from '../../../broker/routing/member.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';
import { setState } from '../../helpers/set-state.js';
import { Liveness } from '../../../broker/routing/liveness.js';

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
      this.store.register({ id, policy, host, packetPort: port, httpPort: http ? 8000 + id : undefined, maxInflight: id, session, tls: false, owner: 'test' });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err; // the id is live on the other host: refused, nothing changed
    }
  }
  links(): LinkState[] {
    return Array.from(this.table.endpoints('packets'), (e): LinkState => [e.member.id!, e.member.info.generation, e.state]);
  }
}

/** A worker as cluster/worker.ts builds it: its table follows a RelayedStore, and takes the primary's link states. */
class Worker {
  readonly store = new RelayedStore();
  readonly table = new PolicyTable('round-robin');
  readonly packetLinks = new Liveness(this.table);
  constructor() {
    followStore(this.store, this.table);
  }
  link([id, generation, state]: LinkState): void {
    const endpoint = this.table.get(id)?.packets;
    if (endpoint !== undefined && endpoint.member.info.generation === generation) this.packetLinks.observedElsewhere(endpoint, state);
  }
  /** The welcome: the primary's list() and link states. */
  async welcome(primary: Primary): Promise<void> {
    this.store.load(overIpc(await primary.store.list()));
    for (const link of overIpc(primary.links())) this.link(link);
  }
}

/** Forwards the primary's store events and link changes to `worker` while `live()`, as primary.ts does. */
function connect(primary: Primary, worker: Worker, live: () => boolean = () => true): void {
  primary.store.watch((event) => live() && worker.store.apply(overIpc(event)));
  primary.table.observe({
    stateChanged: (e) => {
      if (live() && e.protocol === 'packets') worker.link(overIpc([e.member.id!, e.member.info.generation, e.state]));
    },
  });
}

/** Everything HTTP routing can observe of a table, in a comparable form. */
function view(table: PolicyTable) {
  const servers = [...table.endpoints('packets')]
    .map((e) => {
      const m = e.member;
      return [m.id!, m.policy, m.host, e.port, m.info.httpPort ?? null, m.info.maxInflight, m.info.session, m.info.tls, m.info.generation, e.state];
    })
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  const backends = [...table.endpoints('http')].map((e) => `${e.member.policy} ${e.address} ${e.member.selectable(e)}`).sort();
  return { servers, backends };
}

const STATES: MemberState[] = ['connecting', 'up', 'down', 'draining'];

type Op =
  | { op: 'register'; id: number; policy: number; host: string; http: boolean; session: boolean }
  | { op: 'remove'; pick: number }
  | { op: 'drain'; pick: number }
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
  fc.record({ op: fc.constant('drain' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('state' as const), pick: fc.nat(), state: fc.constantFrom(...STATES) }),
);

/** Applies one operation to the primary, as the packet path would (the link's state is the primary's own observation). */
async function run(primary: Primary, op: Op): Promise<void> {
  const members = [...primary.table.members()];
  if (op.op === 'register') return primary.register(op.id, op.policy, op.host, op.http, op.session);
  if (members.length === 0) return;
  const member = members[op.pick % members.length]!;
  if (op.op === 'remove') await primary.store.remove(member.id!, member.info.generation, { kind: 'left', detail: 'test' });
  else if (op.op === 'drain') await primary.store.drain(member.id!, member.info.generation);
  else setState(primary.table, member.packets!, op.state);
}

describe('a worker following the primary through a RelayedStore', () => {
  it('ends like the primary, whether it joins at the start or midway', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 80 }), fc.nat(), async (ops, joinAt) => {
        const primary = new Primary();
        const early = new Worker();
        const late = new Worker();
        let lateJoined = false;
        connect(primary, early);
        connect(primary, late, () => lateJoined);
        const join = joinAt % (ops.length + 1);
        for (const [i, op] of ops.entries()) {
          if (i === join) {
            await late.welcome(primary);
            lateJoined = true;
          }
          await run(primary, op);
        }
        if (!lateJoined) await late.welcome(primary);
        const expected = view(primary.table);
        assert.deepEqual(view(early.table), expected);
        assert.deepEqual(view(late.table), expected);
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('a server down for the primary takes no requests in the worker', async () => {
    const primary = new Primary();
    const worker = new Worker();
    connect(primary, worker);
    primary.register(7, 1, 'a', true, true);
    const http = worker.table.get(7)!.http!;
    assert.equal(worker.table.get(7)!.selectable(http), true);
    setState(primary.table, primary.table.get(7)!.packets!, 'down');
    assert.equal(worker.table.get(7)!.selectable(http), false);
  });

  it('refuses writes: registrations are the primary\'s', async () => {
    const store = new RelayedStore();
    assert.throws(() => store.register(), ReadOnlyStoreError);
    await assert.rejects(store.remove(), ReadOnlyStoreError);
    await assert.rejects(store.drain(), ReadOnlyStoreError);
    await assert.rejects(store.touch(), ReadOnlyStoreError);
  });
});
