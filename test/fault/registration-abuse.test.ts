/**
 * Registration abuse: no secret, a stolen id, and ports of programs the broker cannot speak
 * to. Intruders receive nothing; bogus servers are detected and dropped, and cost the clients
 * nothing but a re-route.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { test } from 'node:test';
import { clients, figures, inProcessBroker, sum, tally, teardown, trackedLoad, waitFor } from '../helpers/fault.js';
import { closedPort } from '../helpers/ports.js';
import { FakeServer, RawPeer } from '../helpers/wire.js';

const { cleanups } = teardown();

/** A TCP listener that counts the connections it gets and does `onSocket` with each. */
async function listener(onSocket: (socket: import('node:net').Socket) => void = () => undefined): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

test('with a registration secret: registrations without it are refused and the intruder is never dialed', async () => {
  const { broker, port } = await inProcessBroker({ registrationSecret: 's3cret' });
  cleanups.push(() => broker.close());
  const trap = await listener();
  for (const secret of [undefined, 'wrong', '', 's3cret-but-longer']) {
    const intruder = await RawPeer.connect(port);
    cleanups.push(() => intruder.close());
    intruder.send({ type: 1, id: 666, privPolyId: 111, listenport: trap.port, session: true, ...(secret === undefined ? {} : { secret }) });
    const refusal = await intruder.line(0);
    assert.equal(refusal.code, 'UNAUTHORIZED');
    await intruder.closedByPeer();
    assert.equal(intruder.received.length, 1, 'nothing but the refusal');
  }
  const client = await RawPeer.connect(port);
  cleanups.push(() => client.close());
  client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'x', seq: 1 });
  assert.equal((await client.line(0)).code, 'NO_SERVER');
  const good = await FakeServer.start({ id: 1, policy: 111, brokerPort: port, secret: 's3cret' });
  cleanups.push(() => good.kill());
  client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'y', seq: 2 });
  assert.equal((await client.line(1)).srcid, 1);
  assert.equal(trap.connections(), 0, 'the intruder was never dialed');
  assert.equal(broker.table.get(666), undefined);
});

test('a live id is refused from another address and from the same one (DUPLICATE_ID)', async () => {
  const { broker, port } = await inProcessBroker();
  cleanups.push(() => broker.close());
  const first = await FakeServer.start({ id: 100, policy: 111, brokerPort: port });
  cleanups.push(() => first.kill());
  const trap = await listener();
  const stranger = await RawPeer.connect(port, '127.0.0.2');
  cleanups.push(() => stranger.close());
  stranger.send({ type: 1, id: 100, privPolyId: 222, listenport: trap.port, session: true });
  assert.equal((await stranger.line(0)).code, 'DUPLICATE_ID');
  const peers = await clients(port, 1);
  cleanups.push(() => peers[0]!.close());
  const before = await trackedLoad({ clients: peers, policy: 111, count: 50, concurrency: 4 });
  assert.equal(before.byServer['100'], 50);
  assert.equal(trap.connections(), 0);
  // The same id from the same address, while the first session is alive, is refused too (registration-hijack.test.ts tries more ways).
  const again = await RawPeer.connect(port);
  cleanups.push(() => again.close());
  again.send({ type: 1, id: 100, privPolyId: 111, listenport: trap.port, session: true });
  assert.equal((await again.line(0)).code, 'DUPLICATE_ID');
  const after = await trackedLoad({ clients: peers, policy: 111, count: 50, concurrency: 4, tag: 'r' });
  assert.equal(after.byServer['100'], 50);
});

test('servers registered on ports of programs the broker cannot speak to are dropped; clients lose nothing', async () => {
  const { broker, port } = await inProcessBroker({ serverTimeoutMs: 500, dialRetryMs: 300 });
  cleanups.push(() => broker.close());
  const good = await FakeServer.start({ id: 1, policy: 111, brokerPort: port, maxInflight: 64 });
  cleanups.push(() => good.kill());

  const http = createHttpServer((_req, res) => res.end('hello'));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  cleanups.push(() => http.close());
  const garbage = await listener((socket) => socket.on('data', () => socket.write('\x16\x03\x01 certainly not ndjson\r\n')));
  const silent = await listener();
  const nobody = await closedPort();
  const bogus: Record<string, number> = {
    http: (http.address() as AddressInfo).port,
    garbage: garbage.port,
    silent: silent.port,
    nobody,
  };
  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  const sessions: Record<string, RawPeer> = {};
  let id = 900;
  const count = await trackedLoad({
    clients: peers,
    policy: 111,
    count: 3000,
    concurrency: 16,
    onAnswer: (_c, n) => {
      // Register the bogus servers one after another while the load runs.
      const names = Object.keys(bogus);
      const i = Math.floor(n / 300) - 1;
      if (n % 300 === 0 && i >= 0 && i < names.length) {
        const name = names[i]!;
        const myId = ++id;
        void RawPeer.connect(port).then((peer) => {
          sessions[name] = peer;
          cleanups.push(() => peer.close());
          peer.send({ type: 1, id: myId, privPolyId: 111, listenport: bogus[name], session: true, maxInflight: 4 });
        });
      }
    },
  });
  await waitFor('every bogus session told and closed', () => Object.keys(sessions).length === 4 && Object.values(sessions).every((s) => s.closed), 10_000);
  const told: Record<string, string[]> = {};
  for (const [name, peer] of Object.entries(sessions)) told[name] = peer.received.map((line) => JSON.parse(line).code ?? `type ${JSON.parse(line).type}`);
  // The broker's own port is refused at registration.
  const self = await RawPeer.connect(port);
  cleanups.push(() => self.close());
  self.send({ type: 1, id: 999, privPolyId: 111, listenport: port, session: true });
  const selfAnswer = await self.line(0);
  figures('bogus-servers', {
    ...tally(count),
    rerouted: broker.stats.rerouted,
    sessionsTold: told,
    ownPort: selfAnswer.code,
    registered: [...broker.table.members()].map((m) => m.id),
  });
  for (const [name, codes] of Object.entries(told)) assert.deepEqual(codes, ['type 4', 'BAD_SERVER'], name);
  assert.equal(selfAnswer.code, 'BAD_PACKET');
  assert.deepEqual([...broker.table.members()].map((m) => m.id), [1], 'only the good server is left');
  assert.equal(sum(count.failed), 0);
  assert.equal(sum(count.errors), 0, JSON.stringify(count.errors));
  assert.equal(count.replies, count.sent);
  assert.equal(count.misdelivered, 0);
});
