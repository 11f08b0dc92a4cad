/**
 * The table following the store when a server registers again: the same server at the same
 * endpoints (e.g. moving to another broker) keeps its member, endpoints and outstanding counts;
 * a changed endpoint is a new member.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../broker/registry/memory-store.js';
import { followStore } from '../../../broker/registry/membership.js';
import type { NewEntry, RegistryStore, ServerEntry, StoreEvent } from '../../../broker/registry/store.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';
import { Member } from '../../../broker/routing/member.js';
import { setState } from '../../helpers/set-state.js';

const entry = (extra: Partial<NewEntry> = {}): NewEntry => ({
  id: 1,
  policy: 111,
  host: '10.0.0.1',
  packetPort: 2001,
  httpPort: 8001,
  maxInflight: 4,
  session: true,
  tls: false,
  owner: 'broker-a',
  ...extra,
});

function setUp(): { store: MemoryStore; table: PolicyTable; seen: string[] } {
  const store = new MemoryStore();
  const table = new PolicyTable();
  const seen: string[] = [];
  table.observe({
    added: (m) => seen.push(`added ${m.info.generation}`),
    removed: (m) => seen.push(`removed ${m.info.generation}`),
    renewed: (m, from) => seen.push(`renewed ${from.generation}->${m.info.generation}`),
  });
  followStore(store, table);
  return { store, table, seen };
}

describe('membership: a server registering again', () => {
  it('at the same endpoints (through another broker) keeps its member, endpoints and outstanding counts', async () => {
    const { store, table, seen } = setUp();
    const first = (await store.register(entry())).entry;
    const member = table.get(1)!;
    const packets = member.packets!;
    setState(table, packets, 'up');
    table.acquire(packets);
    table.acquire(member.http!);
    const again = (await store.register(entry({ owner: 'broker-b', maxInflight: 8 }))).entry;
    assert.equal(table.get(1), member, 'the same member');
    assert.equal(member.packets, packets, 'the same endpoint');
    assert.equal(member.info.generation, again.generation);
    assert.equal(member.info.maxInflight, 8);
    assert.equal(packets.outstanding, 1);
    assert.equal(member.http!.outstanding, 1);
    assert.equal(packets.state, 'up');
    assert.equal(table.pick(111, 'packets'), packets);
    assert.deepEqual(seen, [`added ${first.generation}`, `renewed ${first.generation}->${again.generation}`]);
    // The old generation's late calls change nothing; the new one's do.
    assert.equal(await store.remove(1, first.generation, { kind: 'left', detail: 'late' }), false);
    assert.equal(table.get(1), member);
    assert.equal(await store.remove(1, again.generation, { kind: 'left', detail: 'left' }), true);
    assert.equal(table.get(1), undefined);
    assert.equal(member.present, false);
  });

  it('a draining member registering again takes work again', async () => {
    const { store, table } = setUp();
    const first = (await store.register(entry())).entry;
    const member = table.get(1)!;
    await store.drain(1, first.generation);
    assert.equal(member.packets!.state, 'draining');
    assert.equal(table.pick(111, 'packets'), 'no-live-server');
    await store.register(entry());
    assert.equal(table.get(1), member);
    assert.equal(member.packets!.state, 'connecting');
    assert.equal(table.pick(111, 'packets'), member.packets);
  });

  it('a new weight is followed by the strategies', async () => {
    const { store, table } = setUp();
    await store.register(entry());
    const member = table.get(1)!;
    await store.register(entry({ weight: 5 }));
    assert.equal(table.get(1), member);
    assert.equal(member.weight, 5);
  });

  for (const [what, change] of [
    ['packet port', { packetPort: 2002 }],
    ['HTTP port', { httpPort: 8002 }],
    ['TLS', { tls: true }],
    ['policy', { policy: 222 }],
  ] as Array<[string, Partial<NewEntry>]>) {
    it(`with another ${what} is a new member, and the old one leaves`, async () => {
      const { store, table, seen } = setUp();
      await store.register(entry());
      const old: Member = table.get(1)!;
      await store.register(entry(change));
      const now = table.get(1)!;
      assert.notEqual(now, old);
      assert.equal(old.present, false);
      assert.deepEqual(seen.map((s) => s.split(' ')[0]), ['added', 'added', 'removed']);
      assert.equal([...table.members()].length, 1);
    });
  }

  it('renew() refuses another endpoint, and a member no longer in the table', () => {
    const table = new PolicyTable();
    const info = { ...entry(), generation: 1, registeredAt: 0 };
    const member = new Member(info);
    table.add(member);
    assert.throws(() => table.renew(member, { ...info, generation: 2, packetPort: 2002 }));
    table.remove(member);
    assert.throws(() => table.renew(member, { ...info, generation: 2 }));
  });
});

/** A shared store as the table sees it: only its events (a record expiring is one the memory store never sends). */
function sharedStore(graceMs: number): { table: PolicyTable; send: (event: StoreEvent) => void; stop: () => void } {
  let listener: (event: StoreEvent) => void = () => {};
  const store = { watch: (l: (event: StoreEvent) => void) => ((listener = l), () => {}) } as unknown as RegistryStore;
  const table = new PolicyTable();
  const stop = followStore(store, table, { expiryGraceMs: graceMs });
  return { table, send: (event) => listener(event), stop };
}

const record = (generation: number, extra: Partial<ServerEntry> = {}): ServerEntry => ({ ...entry(), generation, registeredAt: 0, draining: false, ...extra });

describe('membership: a session record that expires while this broker reaches the server', () => {
  it('stays through the grace, and its registration through another broker renews it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { table, send } = sharedStore(600);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    const member = table.get(1)!;
    setState(table, member.packets!, 'up');
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    assert.equal(table.get(1), member, 'held');
    assert.equal(table.pick(111, 'packets'), member.packets);
    t.mock.timers.tick(500);
    send({ kind: 'added', entry: record(2, { owner: 'broker-b' }), replaced: undefined });
    assert.equal(table.get(1), member, 'renewed');
    assert.equal(member.info.generation, 2);
    t.mock.timers.tick(1000);
    assert.equal(table.get(1), member, 'no longer held: the grace no longer applies');
  });

  it('stays for good when its owner writes the same generation back (it renewed the record late)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { table, send } = sharedStore(600);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    const member = table.get(1)!;
    setState(table, member.packets!, 'up');
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    send({ kind: 'added', entry: record(1), replaced: undefined });
    t.mock.timers.tick(1000);
    assert.equal(table.get(1), member);
  });

  it('leaves when the grace ends', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { table, send } = sharedStore(600);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    setState(table, table.get(1)!.packets!, 'up');
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    t.mock.timers.tick(599);
    assert.ok(table.get(1) !== undefined);
    t.mock.timers.tick(1);
    assert.equal(table.get(1), undefined);
  });

  it('leaves at once when its link is not up, when it goes down meanwhile, or when it is not a session', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { table, send } = sharedStore(600);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    assert.equal(table.get(1), undefined, 'connecting: never reached');
    send({ kind: 'added', entry: record(2), replaced: undefined });
    setState(table, table.get(1)!.packets!, 'up');
    send({ kind: 'removed', entry: record(2), reason: { kind: 'expired' } });
    setState(table, table.get(1)!.packets!, 'down');
    assert.equal(table.get(1), undefined, 'went down while held');
    send({ kind: 'added', entry: record(3, { session: false }), replaced: undefined });
    setState(table, table.get(1)!.packets!, 'up');
    send({ kind: 'removed', entry: record(3, { session: false }), reason: { kind: 'expired' } });
    assert.equal(table.get(1), undefined, 'a classic record');
    send({ kind: 'added', entry: record(4), replaced: undefined });
    setState(table, table.get(1)!.packets!, 'up');
    send({ kind: 'removed', entry: record(4), reason: { kind: 'left', detail: 'left' } });
    assert.equal(table.get(1), undefined, 'a removal that is not an expiry');
  });

  it('without a grace (one broker, the memory store), an expiry removes at once', () => {
    const { table, send } = sharedStore(0);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    setState(table, table.get(1)!.packets!, 'up');
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    assert.equal(table.get(1), undefined);
  });

  it('a registration at another endpoint replaces a held member', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { table, send, stop } = sharedStore(600);
    send({ kind: 'added', entry: record(1), replaced: undefined });
    const old = table.get(1)!;
    setState(table, old.packets!, 'up');
    send({ kind: 'removed', entry: record(1), reason: { kind: 'expired' } });
    send({ kind: 'added', entry: record(2, { packetPort: 2999 }), replaced: undefined });
    assert.notEqual(table.get(1), old);
    assert.equal(old.present, false);
    stop();
  });
});

