/**
 * ListenGroup on loopback: several sockets on one port hand every connection to the one server;
 * a port in use still fails with EADDRINUSE; --max-connections holds over all sockets together.
 * Where the runtime has no reusePort (Node before 22.12), the group is one socket, as before.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { ListenGroup, type ListenSettings } from '../../broker/support/listen-group.js';
import { listenPlan, reusePortSupported } from '../../broker/support/reuse-port.js';
import { waitFor } from '../helpers/wait.js';

const settings = async (sockets: number, extra: Partial<ListenSettings> = {}): Promise<ListenSettings> => ({
  port: 0,
  host: '127.0.0.1',
  backlog: 4096,
  sockets,
  reusePort: await reusePortSupported(),
  ...extra,
});

/**
 * A socket whose peer may reset it: these tests count connections served and refused, and a
 * side destroyed with bytes still unread resets the other (ECONNRESET), which must not surface
 * as an uncaught error after the test has ended.
 */
function tolerateReset(socket: Socket): Socket {
  return socket.on('error', () => {});
}

/** Opens `n` connections and resolves once each is open or closed by the far end. */
async function open(port: number, n: number): Promise<Socket[]> {
  const sockets = Array.from({ length: n }, () => tolerateReset(connect({ port, host: '127.0.0.1' })));
  await Promise.all(sockets.map((s) => Promise.race([once(s, 'connect'), once(s, 'close')])));
  return sockets;
}

test('reusePort is detected by trying it, and matches what the runtime is known to have', async () => {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const known = major > 22 || (major === 22 && minor >= 12);
  // Linux has SO_REUSEPORT; the detection must agree with the version there.
  if (process.platform === 'linux') assert.equal(await reusePortSupported(), known);
  const warnings: string[] = [];
  const plan = await listenPlan({ listenSockets: 16, listenBacklog: 4096 }, { warn: (message) => warnings.push(message) });
  assert.equal(plan.sockets, plan.reusePort ? 16 : 1);
  assert.equal(plan.backlog, 4096);
  if (!plan.reusePort) assert.match(warnings[0] ?? '', /one per event-loop turn.*Node 22\.12 or later/);
  else assert.deepEqual(warnings, []);
});

test('every socket of the group hands its connections to the one server', async (t) => {
  let served = 0;
  const server = createServer((socket) => {
    served++;
    // The client is destroyed without reading 'hi': its side resets this one.
    tolerateReset(socket).end('hi');
  });
  const group = new ListenGroup(server);
  t.after(() => group.close());
  const address = await group.listen(await settings(8));
  assert.equal(group.sockets, (await reusePortSupported()) ? 8 : 1);
  const sockets = await open(address.port, 200);
  await waitFor('every connection served', () => served === 200, 5000);
  for (const s of sockets) s.destroy();
});

test('a port already listened on fails with EADDRINUSE, as one plain socket would', async (t) => {
  const other: Server = createServer();
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => other.close());
  const group = new ListenGroup(createServer());
  await assert.rejects(group.listen(await settings(8, { port: (other.address() as AddressInfo).port })), { code: 'EADDRINUSE' });
  assert.equal(group.sockets, 0);
});

test('a second group on the same port fails too: two brokers never split one port silently', async (t) => {
  const first = new ListenGroup(createServer());
  t.after(() => first.close());
  const { port } = await first.listen(await settings(4));
  await assert.rejects(new ListenGroup(createServer()).listen(await settings(4, { port })), { code: 'EADDRINUSE' });
});

test('maxConnections holds over all the sockets together; closed ones make room again', async (t) => {
  const held: Socket[] = [];
  const server = createServer((socket) => {
    held.push(tolerateReset(socket));
    socket.write('+');
  });
  const group = new ListenGroup(server);
  t.after(() => {
    for (const s of held) s.destroy();
    group.close();
  });
  const { port } = await group.listen(await settings(8, { maxConnections: 20 }));
  const clients = await open(port, 60);
  // A connection over the limit is closed at once; one within it gets the server's '+'.
  const welcomed = (s: Socket): Promise<boolean> =>
    new Promise((resolve) => {
      if (s.destroyed) return resolve(false);
      s.once('data', () => resolve(true));
      s.once('close', () => resolve(false));
    });
  const results = await Promise.all(clients.map(welcomed));
  assert.equal(results.filter(Boolean).length, 20);
  for (const s of clients) s.destroy();
  await waitFor('the server saw them close', () => held.every((s) => s.destroyed || s.readableEnded), 5000);
  for (const s of held.splice(0)) s.destroy();
  const again = await open(port, 10);
  assert.equal((await Promise.all(again.map(welcomed))).filter(Boolean).length, 10);
  for (const s of again) s.destroy();
});
