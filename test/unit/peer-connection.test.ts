import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import type { Job } from '../../broker/packets/job.js';
import { PeerConnection, type PeerSettings } from '../../broker/packets/peer-connection.js';
import type { ClientPacket } from '../../broker/protocol/packet-types.js';
import { Counters } from '../../broker/routing/counters.js';
import { Admission } from '../../broker/routing/admission.js';

/**
 * A connection on an unconnected socket: bytes "arrive" by emitting 'data' on it, the way the
 * socket would. Records what it hands on.
 */
function connection(maxInflight = 4, admission = new Admission()): { conn: PeerConnection; socket: Socket; routed: ClientPacket[]; closed: PeerConnection[] } {
  const routed: ClientPacket[] = [];
  const closed: PeerConnection[] = [];
  const registrar = {
    register: () => assert.fail('no registrations here'),
    heartbeat: () => assert.fail('no heartbeats here'),
    leave: () => assert.fail('no leaving here'),
    closed: (conn: PeerConnection) => closed.push(conn),
  };
  const router = { accept: (_conn: PeerConnection, packet: ClientPacket) => routed.push(packet) };
  const settings: PeerSettings = { router, registrar, open: new Set(), stats: new Counters('packets'), maxPacketBytes: 1024, maxInflight, admission };
  const socket = new Socket();
  return { conn: new PeerConnection(socket, settings), socket, routed, closed };
}

const packet = (seq: number): string => `${JSON.stringify({ type: 0, srcid: 1, privPoliId: 7, payloadsize: 1, payload: 'x', seq })}\n`;
const job = {} as Job;

describe('PeerConnection', () => {
  it('holds no decoder, writer or held queue while idle', () => {
    const { conn } = connection();
    assert.equal(conn['decoder'], undefined);
    assert.equal(conn['writer'], undefined);
    assert.equal(conn['held'], undefined);
  });

  it('shares its socket listeners with every other connection', () => {
    const a = connection();
    const b = connection();
    for (const event of ['data', 'error', 'close']) {
      const mine = a.socket.listeners(event);
      assert.equal(mine.length, 1, event);
      assert.equal(mine[0], b.socket.listeners(event)[0], `one '${event}' listener for all`);
    }
  });

  it('makes its decoder on the first bytes, and frames what follows', () => {
    const { conn, socket, routed } = connection();
    const line = packet(1);
    socket.emit('data', Buffer.from(line.slice(0, 10)));
    assert.notEqual(conn['decoder'], undefined);
    assert.equal(conn['decoder']!.midFrame, true);
    assert.equal(routed.length, 0);
    socket.emit('data', Buffer.from(line.slice(10)));
    assert.deepEqual(
      routed.map((p) => p.seq),
      [1],
    );
    assert.equal(conn.inflight, 1);
  });

  it('holds packets past maxInflight, paused, and releases them as answers come', () => {
    const { conn, socket, routed } = connection(2);
    socket.emit('data', Buffer.from(packet(1) + packet(2) + packet(3) + packet(4)));
    assert.deepEqual(
      routed.map((p) => p.seq),
      [1, 2],
    );
    assert.equal(conn['held']?.length, 2);
    assert.equal(socket.isPaused(), true);
    // Empty answer lines: nothing is written on this unconnected socket.
    conn.answer(job, '');
    assert.deepEqual(
      routed.map((p) => p.seq),
      [1, 2, 3],
    );
    assert.equal(socket.isPaused(), true, 'still paused while one is held');
    conn.answer(job, '');
    assert.deepEqual(
      routed.map((p) => p.seq),
      [1, 2, 3, 4],
    );
    assert.equal(conn['held'], undefined, 'the queue goes once empty');
    assert.equal(socket.isPaused(), false);
    assert.equal(conn['writer'], undefined, 'nothing written yet');
  });

  it('accepts each packet it routes on the shared admission, and settles it with its answer; held ones are not taken', () => {
    const admission = new Admission();
    const a = connection(1, admission);
    const b = connection(4, admission);
    a.socket.emit('data', Buffer.from(packet(1) + packet(2)));
    b.socket.emit('data', Buffer.from(packet(3)));
    assert.equal(admission.count, 2, 'one routed per connection; the held one waits');
    a.conn.answer(job, '');
    assert.equal(admission.count, 2, 'the held packet is routed as the first is answered');
    a.conn.answer(job, '');
    b.conn.answer(job, '');
    assert.equal(admission.count, 0);
    assert.equal(admission.idle(), true);
  });

  it('tells the broker when its socket closes', () => {
    const { conn, socket, closed } = connection();
    socket.emit('close', false);
    assert.equal(conn.closed, true);
    assert.deepEqual(closed, [conn]);
  });
});
