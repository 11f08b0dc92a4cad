import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../broker/registry/memory-store.js';
import { followStore } from '../../../broker/registry/membership.js';
import type { NewEntry, StoreEvent } from '../../../broker/registry/store.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';

const entry = (id: number, host = '10.0.0.1', extra: Partial<NewEntry> = {}): NewEntry => ({
  id,
  policy: 111,
  host,
  packetPort: 2000 + id,
  httpPort: undefined,
  maxInflight: 1,
  session: false,
  tls: false,
  owner: 'broker-1',
  ...extra,
});

describe('MemoryStore', () => {
  it('registers with a new generation each time, and the table follows', async () => {
    const store = new MemoryStore(() => 42);
    const table = new PolicyTable();
    const events: StoreEvent[] = [];
    followStore(store, table);
    store.watch((e) => events.push(e));
    const first = await store.register(entry(1));
    assert.equal(first.entry.registeredAt, 42);
    assert.equal(table.get(1)?.info.generation, first.entry.generation);
    const again = await store.register(entry(1));
    assert.ok(again.entry.generation > first.entry.generation);
    assert.equal(again.replaced?.generation, first.entry.generation);
    assert.deepEqual(events.map((e) => e.kind), ['added', 'added']);
    assert.equal(table.get(1)?.info.generation, again.entry.generation);
    assert.deepEqual((await store.list()).map((e) => e.generation), [again.entry.generation]);
  });

  it('a remove or drain naming an older generation changes nothing', async () => {
    const store = new MemoryStore();
    const table = new PolicyTable();
    followStore(store, table);
    const old = (await store.register(entry(1))).entry;
    const current = (await store.register(entry(1))).entry;
    assert.equal(await store.remove(1, old.generation, { kind: 'left', detail: 'late' }), false);
    assert.equal(await store.drain(1, old.generation), false);
    assert.equal(table.get(1)?.packets?.state, 'connecting');
    assert.equal(await store.drain(1, current.generation), true);
    assert.equal(table.get(1)?.packets?.state, 'draining');
    assert.equal(await store.remove(1, current.generation, { kind: 'left', detail: 'left' }), true);
    assert.equal(table.get(1), undefined);
  });

  it('records what it is given: who may take an id is decided before, once (id-claim.ts)', async () => {
    const store = new MemoryStore();
    const first = await store.register(entry(1, '10.0.0.1'));
    const taken = await store.register(entry(1, '10.0.0.2'));
    assert.equal(taken.entry.host, '10.0.0.2');
    assert.equal(taken.replaced?.generation, first.entry.generation);
  });

  it('a watcher that unsubscribes hears nothing more', async () => {
    const store = new MemoryStore();
    const events: StoreEvent[] = [];
    const stop = store.watch((e) => events.push(e));
    await store.register(entry(1));
    stop();
    await store.register(entry(2));
    assert.equal(events.length, 1);
  });
});
