import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreView } from '../../../broker/registry/store-view.js';
import { decodeEntry, encodeEntry, generationText } from '../../../broker/registry/redis-record.js';
import type { ServerEntry, StoreEvent } from '../../../broker/registry/store.js';

const entry = (id: number, generation: number, extra: Partial<ServerEntry> = {}): ServerEntry => ({
  id,
  policy: 111,
  host: '10.0.0.1',
  packetPort: 2000 + id,
  httpPort: undefined,
  maxInflight: 1,
  session: true,
  tls: false,
  owner: 'broker-a',
  registeredAt: 1,
  generation,
  draining: false,
  ...extra,
});

function recorder(): { view: StoreView; events: string[] } {
  const events: string[] = [];
  const view = new StoreView((e: StoreEvent) => {
    const detail = e.kind === 'removed' ? ` ${e.reason.kind}` : e.kind === 'added' && e.replaced !== undefined ? ` replacing @${e.replaced.generation}` : '';
    events.push(`${e.kind} ${e.entry.id}@${e.entry.generation}${detail}`);
  });
  return { view, events };
}

const none = (): boolean => false;

describe('StoreView', () => {
  it('a newer generation replaces an older one; an older one or a removed one changes nothing', () => {
    const { view, events } = recorder();
    view.upsert(entry(1, 5));
    view.upsert(entry(1, 7));
    view.upsert(entry(1, 6));
    assert.equal(view.remove(1, 5, { kind: 'left', detail: 'late' }), false);
    assert.equal(view.remove(1, 7, { kind: 'left', detail: 'left' }), true);
    view.upsert(entry(1, 7));
    assert.deepEqual(events, ['added 1@5', 'added 1@7 replacing @5', 'removed 1@7 left']);
    assert.equal(view.get(1), undefined);
  });

  it('a drain applies to its generation only, once', () => {
    const { view, events } = recorder();
    view.upsert(entry(1, 5));
    assert.equal(view.drain(1, 4), false);
    assert.equal(view.drain(1, 5), true);
    assert.equal(view.drain(1, 5), false);
    view.upsert(entry(1, 5));
    assert.equal(view.get(1)?.draining, true);
    view.upsert(entry(2, 3));
    view.upsert(entry(2, 3, { draining: true }));
    assert.deepEqual(events, ['added 1@5', 'draining 1@5', 'added 2@3', 'draining 2@3']);
  });

  it('a snapshot adds what is missing and expires what is gone, except owned entries', () => {
    const { view, events } = recorder();
    view.upsert(entry(1, 5));
    view.upsert(entry(2, 5));
    const token = view.snapshotToken();
    view.applySnapshot([entry(3, 9)], token, (id) => id === 2);
    assert.deepEqual(events, ['added 1@5', 'added 2@5', 'added 3@9', 'removed 1@5 expired']);
    assert.deepEqual([...view.values()].map((e) => e.id).sort(), [2, 3]);
  });

  it('an expired entry may come back at its generation (written back by its owner); a removed one may not', () => {
    const { view, events } = recorder();
    view.upsert(entry(1, 5));
    view.upsert(entry(2, 5));
    view.applySnapshot([], view.snapshotToken(), none);
    view.upsert(entry(1, 5));
    view.remove(1, 5, { kind: 'left', detail: 'left' });
    view.upsert(entry(1, 5));
    assert.deepEqual(events, ['added 1@5', 'added 2@5', 'removed 1@5 expired', 'removed 2@5 expired', 'added 1@5', 'removed 1@5 left']);
  });

  it('a snapshot asked for before a change leaves that change alone', () => {
    const { view, events } = recorder();
    view.upsert(entry(1, 5));
    const token = view.snapshotToken();
    // Hints that arrive while the snapshot is on its way: a new server, a removal.
    view.upsert(entry(2, 8));
    view.remove(1, 5, { kind: 'left', detail: 'left' });
    view.applySnapshot([entry(1, 5)], token, none);
    assert.deepEqual(events, ['added 1@5', 'added 2@8', 'removed 1@5 left']);
    // The next snapshot, asked for after both, is the news.
    view.applySnapshot([entry(2, 8)], view.snapshotToken(), none);
    assert.deepEqual([...view.values()].map((e) => e.id), [2]);
  });

  it('whatever the order of hints and snapshots, the view ends as the last snapshot says', () => {
    // Each step is a change in "Redis" that brokers learn by a hint (maybe lost) and by snapshots.
    const step = fc.record({ id: fc.integer({ min: 1, max: 4 }), op: fc.constantFrom('add', 'remove', 'drain'), hint: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 6 }), (steps, snapshotsAt) => {
        const redis = new Map<number, ServerEntry>();
        const { view } = recorder();
        let gen = 0;
        const snap = (): ServerEntry[] => [...redis.values()].map((e) => ({ ...e }));
        steps.forEach((s, i) => {
          if (snapshotsAt.includes(i)) view.applySnapshot(snap(), view.snapshotToken(), none);
          const cur = redis.get(s.id);
          if (s.op === 'add') {
            const e = entry(s.id, ++gen);
            redis.set(s.id, e);
            if (s.hint) view.upsert(e);
          } else if (cur !== undefined && s.op === 'remove') {
            redis.delete(s.id);
            if (s.hint) view.remove(s.id, cur.generation, { kind: 'left', detail: '' });
          } else if (cur !== undefined && s.op === 'drain' && !cur.draining) {
            redis.set(s.id, { ...cur, draining: true });
            if (s.hint) view.drain(s.id, cur.generation);
          }
        });
        view.applySnapshot(snap(), view.snapshotToken(), none);
        const got = [...view.values()].map((e) => `${e.id}@${e.generation}${e.draining ? 'd' : ''}`).sort();
        const want = snap().map((e) => `${e.id}@${e.generation}${e.draining ? 'd' : ''}`).sort();
        assert.deepEqual(got, want);
      }),
    );
  });
});

describe('registry records', () => {
  it('round-trips an entry, and says why a bad one does not parse', () => {
    const e = entry(7, 1733300000000123, { httpPort: 8080, draining: true });
    assert.deepEqual(decodeEntry('7', generationText(e.generation), encodeEntry(e), '1'), e);
    const https = entry(8, 2, { httpPort: 8443, httpTls: true });
    assert.deepEqual(decodeEntry('8', '2', encodeEntry(https), ''), https, 'httpTls (a registration\'s httptls) round-trips');
    assert.match(String(decodeEntry('8', '2', JSON.stringify({ ...JSON.parse(encodeEntry(https)), httpTls: 'yes' }), '')), /httpTls/);
    assert.equal(generationText(1733300000000123), '1733300000000123');
    assert.match(String(decodeEntry('7', '12', '{', '')), /not JSON/);
    assert.match(String(decodeEntry('7', '1.5e3', encodeEntry(e), '')), /generation/);
    assert.match(String(decodeEntry('7', '12', JSON.stringify({ ...JSON.parse(encodeEntry(e)), host: 5 }), '')), /host/);
    assert.match(String(decodeEntry('7', '12', JSON.stringify({ ...JSON.parse(encodeEntry(e)), packetPort: undefined, httpPort: undefined }), '')), /neither/);
  });
});
