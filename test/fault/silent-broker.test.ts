/**
 * A broker that goes silent without an error (its link cut: a relay the test freezes drops every
 * byte and keeps the connections open). The client library, with packets waiting, gives the
 * connection up after `silenceMs` and resubmits them to the next broker of its list; a pool's
 * session, whose heartbeats the broker answers (echo), registers with the next broker. Both in
 * a bounded time, far below the client's timeout and TCP's own minutes; nothing lost.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { BrokerClient } from '../../client/index.js';
import { startPool } from '../../server-pool/index.js';
import { FreezableRelay } from '../helpers/relay.js';
import { figures, inProcessBroker, teardown, timeUntil, trackedLoad, waitFor } from '../helpers/fault.js';
import { FakeServer, RawPeer, readLines } from '../helpers/wire.js';
import { sha1Hex } from '../../server-pool/handlers.js';

const { cleanups } = teardown();

test('client: a broker silent with packets waiting is dropped after silenceMs, its packets resubmitted to the next broker; nothing lost', { timeout: 30_000 }, async () => {
  const { broker, port } = await inProcessBroker({ serverTimeoutMs: 5000 });
  cleanups.push(() => broker.close());
  const pool = await startPool({ broker: { host: '127.0.0.1', port }, policy: 111, ids: [100, 101], delayMs: 2 });
  cleanups.push(() => pool.stop());
  // "Broker 1" is the relay; "broker 2" the broker itself: the same registry either way.
  const relay = await FreezableRelay.start(port);
  cleanups.push(() => relay.close());
  const silenceMs = 600;
  const options = { host: '127.0.0.1', port: relay.port, brokers: [{ host: '127.0.0.1', port }], silenceMs, timeoutMs: 30_000 };
  const clients = await Promise.all([BrokerClient.connect(options), BrokerClient.connect(options)]);
  cleanups.push(() => Promise.all(clients.map((client) => client.close())));

  let frozenAt = 0;
  let lastAnswerAt = 0;
  const count = await trackedLoad({
    clients,
    policy: 111,
    count: 3000,
    concurrency: 32,
    expected: (payload) => sha1Hex(payload),
    onAnswer: (_count, answered) => {
      lastAnswerAt = performance.now();
      if (answered === 1000) {
        relay.freeze();
        frozenAt = lastAnswerAt;
      }
    },
  });

  assert.deepEqual(count.failed, {}, 'no send failed');
  assert.deepEqual(count.errors, {});
  assert.equal(count.misdelivered, 0, 'every reply is the answer to its own packet');
  assert.equal(count.replies, 3000);
  for (const client of clients) {
    assert.equal(client.silentBrokers, 1, 'each client gave the silent relay up once');
    assert.ok(client.resubmitted > 0, 'and resubmitted what it had waiting');
    assert.equal(client.broker, `127.0.0.1:${port}`);
  }
  // The load resumed after the silence and finished long before the 30 s timeout would have
  // ended it (the margin is for the 2,000 packets after the freeze on a loaded machine).
  const stalledMs = lastAnswerAt - frozenAt;
  assert.ok(stalledMs < silenceMs * 1.25 + 8000, `the load finished ${Math.round(stalledMs)} ms after the freeze`);
  figures('client-silent-broker', { silenceMs, finishedAfterFreezeMs: Math.round(stalledMs), resubmitted: clients[0]!.resubmitted + clients[1]!.resubmitted });
});

test('client: a server slower than the broker\'s --server-timeout is not taken for a silent broker (the broker answers TIMEOUT first)', { timeout: 20_000 }, async () => {
  const { broker, port } = await inProcessBroker({ serverTimeoutMs: 300, maxAttempts: 1 });
  cleanups.push(() => broker.close());
  const mute = await FakeServer.start({ brokerPort: port, id: 300, policy: 333, answer: () => undefined });
  cleanups.push(() => mute.kill());
  const client = await BrokerClient.connect({ port, brokers: [{ host: 'localhost', port }], silenceMs: 900, timeoutMs: 10_000 });
  cleanups.push(() => client.close());
  const answer = await client.send({ type: 0, srcid: 1, privPoliId: 333, payload: 'slow' });
  assert.equal(answer.type, 3);
  assert.equal((answer as { code: string }).code, 'TIMEOUT');
  assert.equal(client.silentBrokers, 0);
  assert.equal(client.resubmitted, 0);
});

test('broker: a heartbeat asking for an echo is answered only on the connection holding that session', { timeout: 10_000 }, async () => {
  const { broker, port } = await inProcessBroker();
  cleanups.push(() => broker.close());
  const server = await FakeServer.start({ brokerPort: port, id: 500, policy: 555 });
  cleanups.push(() => server.kill());
  server.registration!.send({ type: 5, id: 500, echo: true });
  assert.deepEqual(await server.registration!.line(1), { type: 5, id: 500 });
  // Another connection's heartbeat for that id, or one without echo, gets nothing; the next
  // echo on the session is answered after them, in order.
  const stranger = await RawPeer.connect(port);
  cleanups.push(() => stranger.close());
  stranger.send({ type: 5, id: 500, echo: true });
  server.registration!.send({ type: 5, id: 500 });
  server.registration!.send({ type: 5, echo: true });
  assert.deepEqual(await server.registration!.line(2), { type: 5 });
  stranger.send({ type: 0, srcid: 1, privPoliId: 999, payload: 'x', seq: 1 });
  assert.equal((await stranger.line(0)).code, 'NO_SERVER', 'the first line the stranger gets is the answer to its packet');
});

test('pool: a registered session whose broker stops answering heartbeats moves to the next broker within the silence limit', { timeout: 30_000 }, async () => {
  const { broker, port } = await inProcessBroker({ heartbeatMs: 100, heartbeatMisses: 3 });
  cleanups.push(() => broker.close());
  const relay = await FreezableRelay.start(port, true);
  cleanups.push(() => relay.close());
  const brokerSilenceMs = 500;
  const pool = await startPool({ broker: { host: '127.0.0.1', port: relay.port }, brokers: [{ host: '127.0.0.1', port }], policy: 111, ids: [100], brokerSilenceMs });
  cleanups.push(() => pool.stop());
  const server = pool.servers[0]!;
  // The broker answers the heartbeats' echo: the session is watched from the first answer on.
  await waitFor('an echo through the relay', () => relay.fromTarget.includes('"type":5'));

  const again = once(server, 'registered');
  const frozenAt = performance.now();
  relay.freeze();
  const [info] = await again;
  const movedMs = performance.now() - frozenAt;
  assert.equal(info.again, true);
  // Silence noticed within 1.25 × the limit, then the old session is swept by the broker
  // (3 missed heartbeats of 100 ms) before the id can be registered again.
  assert.ok(movedMs < brokerSilenceMs * 1.25 + 2500, `registered again ${Math.round(movedMs)} ms after the freeze`);

  // Served through the broker at the new session.
  const client = await BrokerClient.connect({ port });
  cleanups.push(() => client.close());
  await timeUntil('server 100 routable again', async () => (await client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'x' })).type === 2, 5000, 50);
  const answer = await client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'after' });
  assert.equal(answer.type, 2);
  assert.equal((answer as { payload: string }).payload, sha1Hex('after'));
  figures('pool-silent-broker', { brokerSilenceMs, registeredAgainAfterMs: Math.round(movedMs) });
});

test('pool: a broker that does not answer echoes (an older broker) is not watched: the session stays', { timeout: 20_000 }, async () => {
  // A broker stand-in that takes the registration and answers nothing after it.
  let heartbeats = 0;
  const fake = createServer((socket) => {
    socket.on('error', () => undefined);
    readLines(socket, (line) => {
      const packet = JSON.parse(line);
      if (packet.type === 1) socket.write(JSON.stringify({ type: 4, id: packet.id, privPolyId: packet.privPolyId, status: 'registered', heartbeatMs: 50 }) + '\n');
      if (packet.type === 5) heartbeats++;
    });
  });
  fake.listen(0, '127.0.0.1');
  await once(fake, 'listening');
  cleanups.push(() => new Promise((resolve) => fake.close(resolve)));
  const fakePort = (fake.address() as AddressInfo).port;
  const pool = await startPool({ broker: { host: '127.0.0.1', port: fakePort }, policy: 111, ids: [100], brokerSilenceMs: 200 });
  cleanups.push(() => pool.stop());
  let lost = false;
  pool.servers[0]!.on('lost', () => (lost = true));
  // 20 heartbeats (1 s) without an answer: 5 times the silence limit.
  await waitFor('20 heartbeats', () => heartbeats >= 20, 10_000);
  assert.equal(lost, false);
});
