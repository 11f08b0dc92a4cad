/**
 * The table following the store when a server registers again: the same server at the same
 * endpoints (e.g. moving to another broker) keeps its member, endpoints and outstanding counts;
 * a changed endpoint is a new member.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../broker/registry/memory-store.js';
import { followStore } from '../../../broker/registry/membership.js';
import type { NewEntry } from '../../../broker/registry/store.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';
import { Member } from '../../../broker/routing/member.js';

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
    table.setState(packets, 'up');
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
