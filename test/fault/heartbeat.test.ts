/**
 * Heartbeats: a session server that stops sending them is taken out after --heartbeat-misses,
 * although every one of its TCP connections stays open (a host gone dark behind NAT).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clients, figures, inProcessBroker, sum, teardown, timeUntil, trackedLoad, waitFor } from '../helpers/fault.js';
import { FakeServer } from '../helpers/wire.js';

const { cleanups } = teardown();

test('a server that stops heartbeating is taken out within its misses, its sockets still open; nothing is lost', async () => {
  const heartbeatMs = 100;
  const misses = 3;
  const { broker, port } = await inProcessBroker({ heartbeatMs, heartbeatMisses: misses });
  cleanups.push(() => broker.close());
  const alive = await FakeServer.start({ id: 1, policy: 111, brokerPort: port, maxInflight: 32, heartbeatMs });
  cleanups.push(() => alive.kill());
  const dark = await FakeServer.start({ id: 2, policy: 111, brokerPort: port, maxInflight: 32, heartbeatMs });
  cleanups.push(() => dark.kill());
  const peers = await clients(port, 2);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  await waitFor('heartbeats counted', () => (broker.registrar.heartbeatsOf(2) ?? 0) >= 2);

  let removedAfterMs = -1;
  let silentSince = 0;
  const count = await trackedLoad({
    clients: peers,
    policy: 111,
    count: 4000,
    concurrency: 16,
    onAnswer: (_c, n) => {
      if (n === 500) {
        dark.stopHeartbeats();
        silentSince = Date.now();
      }
      if (silentSince > 0 && removedAfterMs < 0 && broker.table.get(2) === undefined) removedAfterMs = Date.now() - silentSince;
    },
  });
  if (removedAfterMs < 0) removedAfterMs = (await timeUntil('the dark server removed', () => broker.table.get(2) === undefined)) + Date.now() - silentSince;
  // The broker closed its session; the dark server itself closed nothing.
  await dark.registration!.closedByPeer();
  const received = dark.realPackets.length;
  const after = await trackedLoad({ clients: peers, policy: 111, count: 300, concurrency: 8, tag: 'after' });
  figures('heartbeat-miss', {
    sent: count.sent + after.sent,
    answered: count.replies + after.replies,
    lost: sum(count.failed) + sum(after.failed),
    errors: { ...count.errors, ...after.errors },
    heartbeatMs,
    misses,
    removedAfterMs,
    byServer: count.byServer,
  });
  assert.ok(removedAfterMs >= heartbeatMs * misses - heartbeatMs, `not taken out early (${removedAfterMs} ms)`);
  assert.ok(removedAfterMs < heartbeatMs * misses + 2000, `taken out within its misses plus a sweep (${removedAfterMs} ms)`);
  assert.equal(dark.realPackets.length, received, 'no packet reaches it afterwards');
  assert.equal(after.byServer['2'], undefined);
  assert.equal(sum(count.failed) + sum(after.failed), 0);
  assert.equal(sum(count.errors) + sum(after.errors), 0, JSON.stringify(count.errors));
  assert.equal(count.replies + after.replies, count.sent + after.sent);
  assert.equal(count.misdelivered + after.misdelivered, 0);
  assert.ok(broker.table.get(1) !== undefined, 'the heartbeating server stays');
});
