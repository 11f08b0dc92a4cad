import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBroker, type Program } from '../helpers/programs.js';
import { FakeServer, RawPeer } from '../helpers/wire.js';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function broker(args: string[] = []): Promise<{ broker: Program; port: number }> {
  const started = await startBroker(args);
  cleanups.push(() => started.broker.stop());
  return started;
}

test('a registration is answered with type 4 and the server then gets packets', async () => {
  const { port } = await broker();
  const server = await FakeServer.start({ id: 100, policy: 111, brokerPort: port });
  cleanups.push(() => server.kill());
  const ack = await server.registration!.line(0);
  assert.deepEqual({ type: ack.type, id: ack.id, privPolyId: ack.privPolyId, status: ack.status }, { type: 4, id: 100, privPolyId: 111, status: 'registered' });
  assert.ok(ack.heartbeatMs > 0);
  const client = await RawPeer.connect(port);
  cleanups.push(() => client.close());
  client.send({ type: 0, srcid: 7, privPoliId: 111, payload: 'xyz', seq: 1 });
  const reply = await client.line(0);
  assert.deepEqual(reply, { type: 2, srcid: 100, destid: 7, payloadsize: 7, payload: '100:xyz', seq: 1 });
  assert.equal(server.packets[0].privPoliId, 111);
  assert.equal(typeof server.packets[0].rid, 'number');
});

test('with --registration-secret, a registration without it is refused with UNAUTHORIZED and gets no packets', async () => {
  const { port } = await broker(['--registration-secret', 's3cret']);
  const intruder = await RawPeer.connect(port);
  cleanups.push(() => intruder.close());
  intruder.send({ type: 1, id: 100, privPolyId: 111, listenport: 9, secret: 'wrong' });
  const refusal = await intruder.line(0);
  assert.equal(refusal.type, 3);
  assert.equal(refusal.code, 'UNAUTHORIZED');
  await intruder.closedByPeer();

  const good = await FakeServer.start({ id: 101, policy: 111, brokerPort: port, secret: 's3cret' });
  cleanups.push(() => good.kill());
  assert.equal((await good.registration!.line(0)).type, 4);
  const client = await RawPeer.connect(port);
  cleanups.push(() => client.close());
  client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'p' });
  assert.equal((await client.line(0)).srcid, 101);
});

test('a second registration of a live id from another address is refused with DUPLICATE_ID', async () => {
  const { port } = await broker();
  const first = await FakeServer.start({ id: 100, policy: 111, brokerPort: port });
  cleanups.push(() => first.kill());
  // 127.0.0.2 is another loopback address: the same id from another host.
  const stranger = await RawPeer.connect(port, '127.0.0.2');
  cleanups.push(() => stranger.close());
  stranger.send({ type: 1, id: 100, privPolyId: 111, listenport: first.port });
  const refusal = await stranger.line(0);
  assert.equal(refusal.code, 'DUPLICATE_ID');
});

test('a session server is removed when its registration connection closes', async () => {
  const { port } = await broker();
  const server = await FakeServer.start({ id: 100, policy: 111, brokerPort: port });
  const client = await RawPeer.connect(port);
  cleanups.push(() => client.close());
  client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'a', seq: 1 });
  assert.equal((await client.line(0)).type, 2);
  server.registration!.close();
  // Removal is asynchronous: poll with packets until the broker says the policy is empty.
  const deadline = Date.now() + 5000;
  let answer;
  for (let seq = 2; Date.now() < deadline; seq++) {
    client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'a', seq });
    answer = await client.line(seq - 1);
    if (answer.type === 3) break;
  }
  assert.equal(answer.code, 'NO_SERVER');
  server.kill();
});
