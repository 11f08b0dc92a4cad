/**
 * Registrations that would hijack or orphan a live server, or point the broker at itself
 * (issue 12, items 1 and 3, and the registration half of 4). Each refusal is checked, and then
 * that the live server still serves once the intruder has gone.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { clients, figures, inProcessBroker, teardown, trackedLoad, waitFor } from '../helpers/fault.js';
import { start } from '../helpers/programs.js';
import { startBroker } from '../helpers/programs.js';
import { FakeServer, RawPeer } from '../helpers/wire.js';

const { programs, cleanups } = teardown();

/** A listener that accepts and says nothing: a port the broker can dial. */
async function trap(): Promise<number> {
  const server = createServer((socket) => socket.on('error', () => undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

async function refusal(port: number, packet: object, from?: string): Promise<string> {
  const peer = await RawPeer.connect(port, from);
  cleanups.push(() => peer.close());
  peer.send(packet);
  const answer = await peer.line(0);
  // The intruder goes away, as the attack does: a replaced session would take the server with it.
  peer.close();
  return answer.type === 4 ? 'registered' : answer.code;
}

test('a live server\'s id cannot be taken from the same host or another, by a session or a classic registration; the server keeps serving after the intruder leaves', async () => {
  const { broker, port } = await inProcessBroker();
  cleanups.push(() => broker.close());
  const session = await FakeServer.start({ id: 100, policy: 111, brokerPort: port, heartbeatMs: 200 });
  cleanups.push(() => session.kill());
  const classic = await FakeServer.start({ id: 200, policy: 222, brokerPort: port, session: false });
  cleanups.push(() => classic.kill());
  const peers = await clients(port, 1);
  cleanups.push(() => peers[0]!.close());
  await trackedLoad({ clients: peers, policy: 222, count: 5, concurrency: 1 }); // the classic one is dialed and up
  const other = await trap();
  const attempts: Record<string, string> = {
    sessionIdOtherPortSameHost: await refusal(port, { type: 1, id: 100, privPolyId: 111, listenport: other, session: true }),
    sessionIdSamePortSameHost: await refusal(port, { type: 1, id: 100, privPolyId: 111, listenport: session.port, session: true }),
    sessionIdClassicSameHost: await refusal(port, { type: 1, id: 100, privPolyId: 111, listenport: other }),
    sessionIdOtherPolicy: await refusal(port, { type: 1, id: 100, privPolyId: 999, listenport: other, session: true }),
    sessionIdFrom127002: await refusal(port, { type: 1, id: 100, privPolyId: 111, listenport: other, session: true }, '127.0.0.2'),
    classicIdOtherPort: await refusal(port, { type: 1, id: 200, privPolyId: 222, listenport: other, session: true }),
    classicIdAsSession: await refusal(port, { type: 1, id: 200, privPolyId: 222, listenport: classic.port, session: true }),
    classicPortOtherPolicyNewId: await refusal(port, { type: 1, id: 300, privPolyId: 333, listenport: classic.port }),
    sessionPortOtherPolicyNewId: await refusal(port, { type: 1, id: 301, privPolyId: 333, listenport: session.port, session: true }),
    // A classic server registering again for its own address and policy (a restart in place) is served.
    classicInPlace: await refusal(port, { type: 1, id: 200, privPolyId: 222, listenport: classic.port }),
  };
  const p111 = await trackedLoad({ clients: peers, policy: 111, count: 50, concurrency: 4, tag: 'a' });
  const p222 = await trackedLoad({ clients: peers, policy: 222, count: 50, concurrency: 4, tag: 'b' });
  figures('id-hijack', { attempts, policy111: p111.byServer, policy222: p222.byServer, errors: { ...p111.errors, ...p222.errors } });
  for (const [name, code] of Object.entries(attempts)) assert.equal(code, name === 'classicInPlace' ? 'registered' : 'DUPLICATE_ID', name);
  assert.deepEqual(p111.byServer, { 100: 50 }, 'the session server serves on');
  assert.deepEqual(p222.byServer, { 200: 50 }, 'the classic server serves on');
  // The owner itself may register again on its own session, and a closed session frees the id.
  session.registration!.send({ type: 1, id: 100, privPolyId: 111, listenport: session.port, session: true, maxInflight: 2 });
  assert.equal((await session.registration!.line(1)).type, 4);
  session.kill();
  await waitFor('the session server removed', () => broker.table.get(100) === undefined);
  const restarted = await FakeServer.start({ id: 100, policy: 111, brokerPort: port });
  cleanups.push(() => restarted.kill());
  assert.equal(broker.table.get(100)?.packets?.port, restarted.port);
});

test('two policy-server-pool --ids 100 on one host: the second is refused and exits; the first serves on, and its id is free once it stops', { timeout: 60_000 }, async () => {
  const { broker, port } = await startBroker(['--port', '0']);
  programs.push(broker);
  const first = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100']);
  programs.push(first);
  await first.ready;
  const second = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100']);
  programs.push(second);
  const secondExit = await second.exited;
  const peers = await clients(port, 1);
  cleanups.push(() => peers[0]!.close());
  const load = await trackedLoad({ clients: peers, policy: 111, count: 40, concurrency: 4, expected: (payload) => payload.split('').reverse().join('') });
  await first.stop('SIGTERM');
  const third = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100']);
  programs.push(third);
  await third.ready;
  const afterRestart = await trackedLoad({ clients: peers, policy: 111, count: 10, concurrency: 2, tag: 'r', expected: (payload) => payload.split('').reverse().join('') });
  figures('two-pools-one-id', { secondExit, secondSays: second.stderr().trim().split('\n').pop(), replies: load.replies, errors: load.errors, afterRestart: afterRestart.replies });
  assert.equal(secondExit, 1);
  assert.match(second.stderr(), /DUPLICATE_ID/);
  assert.equal(load.replies, 40, JSON.stringify(load.errors));
  assert.equal(afterRestart.replies, 10);
});

test('a registration naming one of the broker\'s own listening ports is refused, from 127.0.0.1 or 127.0.0.2, for listenport and httpport', async () => {
  const { broker, port } = await inProcessBroker({ host: '0.0.0.0', httpPort: 0 });
  cleanups.push(() => broker.close());
  const httpPort = broker.httpAddress()!.port;
  const other = await trap();
  const answers: Record<string, string> = {};
  for (const from of ['127.0.0.1', '127.0.0.2']) {
    answers[`listenport=packet from ${from}`] = await refusal(port, { type: 1, id: 1, privPolyId: 111, listenport: port, session: true }, from);
    answers[`listenport=http from ${from}`] = await refusal(port, { type: 1, id: 2, privPolyId: 111, listenport: httpPort, session: true }, from);
    answers[`httpport=http from ${from}`] = await refusal(port, { type: 1, id: 3, privPolyId: 111, listenport: other, httpport: httpPort, session: true }, from);
    answers[`httpport=packet from ${from}`] = await refusal(port, { type: 1, id: 4, privPolyId: 111, listenport: other, httpport: port, session: true }, from);
  }
  figures('self-target', answers);
  for (const [name, code] of Object.entries(answers)) assert.equal(code, 'BAD_PACKET', name);
  assert.equal([...broker.table.members()].length, 0);
});
