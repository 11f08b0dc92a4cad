/**
 * Leaving gracefully: a server that leaves (leave packet, SIGTERM on the pool) gets no new
 * packets, answers its in-flight ones and is then removed; a broker that gets SIGTERM answers
 * what is in flight before it exits.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { BrokerClient } from '../../client/index.js';
import { sha1 } from '../helpers/classic.js';
import { clients, figures, inProcessBroker, settled, sum, tally, teardown, trackedLoad, waitFor } from '../helpers/fault.js';
import { start, startBroker } from '../helpers/programs.js';
import { refusesConnections } from '../helpers/wait.js';
import { FakeServer, replyLine } from '../helpers/wire.js';

const { programs, cleanups } = teardown();

/** A fake server that keeps every packet unanswered until release(). */
async function holdingServer(id: number, policy: number, brokerPort: number, maxInflight: number) {
  const held: Array<{ packet: any; socket: Socket }> = [];
  const server = await FakeServer.start({
    id,
    policy,
    brokerPort,
    maxInflight,
    answer: (packet, socket) => {
      held.push({ packet, socket });
      return undefined;
    },
  });
  cleanups.push(() => server.kill());
  const release = (): number => {
    const n = held.length;
    for (const { packet, socket } of held.splice(0)) socket.write(replyLine(id, packet));
    return n;
  };
  return { server, held, release };
}

test('a server that sends a leave packet gets no new packets, answers its in-flight ones, then is removed', async () => {
  const { broker, port } = await inProcessBroker();
  cleanups.push(() => broker.close());
  const good = await FakeServer.start({ id: 1, policy: 111, brokerPort: port, maxInflight: 64 });
  cleanups.push(() => good.kill());
  const leaving = await holdingServer(2, 111, port, 8);
  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));

  let answered = 0;
  const total = 2000;
  const load = trackedLoad({ clients: peers, policy: 111, count: total, concurrency: 32, onAnswer: (_c, n) => (answered = n) });
  await waitFor('8 packets in flight on the leaving server', () => leaving.held.length === 8);
  const member = broker.table.get(2)!;
  const record = member.packets!;
  leaving.server.leave();
  await waitFor('the server draining', () => record.state === 'draining');
  const atLeave = leaving.server.realPackets.length;
  // Everything else is answered by the other server meanwhile.
  await waitFor('all packets but the 8 held answered', () => answered === total - 8, 20_000);
  assert.equal(leaving.server.realPackets.length, atLeave, 'no new packet after the leave');
  assert.equal(broker.table.get(2), member, 'still registered while packets are in flight');
  const released = leaving.release();
  const count = await load;
  await waitFor('the drained server removed', () => broker.table.get(2) === undefined);
  figures('leave-packet', { ...tally(count), heldAtLeave: released, byServer: count.byServer });
  assert.equal(count.replies, total);
  assert.equal(count.misdelivered, 0);
  assert.equal(count.byServer['2'], atLeave, 'the leaving server answered exactly its in-flight packets');
});

test('SIGTERM on a pool: its server leaves, answers what it holds, exits 0; the load loses nothing', async () => {
  const { broker, port } = await startBroker();
  programs.push(broker);
  const stay = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--id', '100', '--delay', '20']);
  const go = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--id', '200', '--delay', '200']);
  programs.push(stay, go);
  await Promise.all([stay.ready, go.ready]);
  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  const total = 3000;
  let termAt = -1;
  const count = await trackedLoad({
    clients: peers,
    policy: 111,
    count: total,
    concurrency: 64,
    expected: (payload) => sha1(payload),
    onAnswer: (c) => {
      if (termAt < 0 && settled(c) >= 300) {
        termAt = Date.now();
        go.child.kill('SIGTERM');
      }
    },
  });
  const code = await go.exited;
  figures('pool-sigterm', { ...tally(count), byServer: count.byServer, exitCode: code });
  assert.equal(code, 0);
  assert.equal(sum(count.failed), 0);
  assert.equal(sum(count.errors), 0, JSON.stringify(count.errors));
  assert.equal(count.replies, total);
  assert.equal(count.misdelivered, 0);
});

test('SIGTERM on the broker: packets in flight are answered with replies before it exits 0', async () => {
  const { broker, port } = await startBroker();
  programs.push(broker);
  const holder = await holdingServer(5, 111, port, 64);
  const client = await BrokerClient.connect({ host: '127.0.0.1', port, timeoutMs: 20_000 });
  cleanups.push(() => client.close());
  const inflight = Array.from({ length: 40 }, (_, i) => client.send({ type: 0, srcid: 3, privPoliId: 111, payload: `drain-${i}` }));
  await waitFor('40 packets at the server', () => holder.held.length === 40);
  broker.child.kill('SIGTERM');
  await waitFor('the broker stopping (its packet port closed)', () => refusesConnections(port));
  // Still draining: a new packet is refused, the ones in flight wait for their server.
  const late = await client.send({ type: 0, srcid: 3, privPoliId: 111, payload: 'late' });
  assert.equal(late.type, 3);
  assert.equal((late as any).code, 'UNAVAILABLE');
  assert.equal(broker.child.exitCode, null, 'the broker waits for its in-flight packets');
  holder.release();
  const answers = await Promise.all(inflight);
  const code = await broker.exited;
  const replies = answers.filter((a, i) => a.type === 2 && a.payload === `5:drain-${i}`).length;
  figures('broker-sigterm', { inflight: inflight.length, replies, exitCode: code });
  assert.equal(replies, 40, 'every in-flight packet answered with its reply');
  assert.equal(code, 0);
});
