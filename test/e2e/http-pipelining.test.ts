/**
 * Pipelined requests on one client connection go to the backends one at a time, in order
 * (as nginx and HAProxy relay them): the backend sees at most one of them at once, and the
 * answers come back in order. Requests of different connections still run side by side.
 * The backend is a node:http server of the test's own that counts the requests it holds.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { brokerStatus, httpBackend, rawRequest, splitResponses, startHttpBroker, tempDir, waitFor, writeServersConf, type HttpBroker } from '../helpers/http.js';

/** How long the backend holds each request: long enough that parallel requests would overlap. */
const HOLD_MS = 20;

let backend: Server;
let holding = 0;
let mostHeld = 0;
let broker: HttpBroker;
let dir: string;

/** While set, the backend holds every request until the gate opens (then HOLD_MS more). */
let gate: { opened: Promise<void>; open: () => void; whenHolding: number } | undefined;

before(async () => {
  backend = createServer((req, res) => {
    holding++;
    mostHeld = Math.max(mostHeld, holding);
    if (gate !== undefined && holding >= gate.whenHolding) gate.open();
    const answer = () =>
      setTimeout(() => {
        holding--;
        res.end(req.url);
      }, HOLD_MS);
    if (gate === undefined) answer();
    else void gate.opened.then(answer);
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  dir = mkdtempSync(path.join(tmpdir(), 'pb-pipelining-'));
  const conf = path.join(dir, 'servers.conf');
  const { port } = backend.address() as AddressInfo;
  writeFileSync(conf, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port, policy: 111 }] }));
  broker = await startHttpBroker(['--servers', conf, '--health-interval', '0']);
});

after(async () => {
  await broker?.broker.stop();
  backend?.closeAllConnections();
  backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

function pipelined(count: number, tag: string): string {
  let bytes = '';
  for (let i = 0; i < count; i++) bytes += `GET /${tag}/${i} HTTP/1.1\r\nHost: test\r\n\r\n`;
  return bytes;
}

test('10 pipelined requests reach the backend one at a time and are answered in order', async () => {
  mostHeld = 0;
  const result = await rawRequest(broker.httpPort, pipelined(10, 'a'), { until: (text) => splitResponses(text).length === 10 });
  const responses = splitResponses(result.text);
  assert.deepEqual(
    responses.map((r) => [r.status, r.body]),
    Array.from({ length: 10 }, (_, i) => [200, `/a/${i}`]),
  );
  assert.equal(mostHeld, 1, 'the backend held more than one pipelined request at once');
});

test('pipelined requests of two connections run side by side, each connection in order', async () => {
  mostHeld = 0;
  // The backend answers nothing until a request of each connection has reached it (or 5 s
  // have passed): side by side, both first requests arrive; one at a time overall, only one.
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  gate = { opened, open, whenHolding: 2 };
  const timer = setTimeout(open, 5000);
  const [a, b] = await Promise.all(
    ['b', 'c'].map((tag) => rawRequest(broker.httpPort, pipelined(5, tag), { until: (text) => splitResponses(text).length === 5 })),
  );
  assert.deepEqual(splitResponses(a!.text).map((r) => r.body), ['/b/0', '/b/1', '/b/2', '/b/3', '/b/4']);
  assert.deepEqual(splitResponses(b!.text).map((r) => r.body), ['/c/0', '/c/1', '/c/2', '/c/3', '/c/4']);
  clearTimeout(timer);
  gate = undefined;
  assert.equal(mostHeld, 2, 'one request of each connection at a time');
});

test('a connection that closes with pipelined requests waiting leaves nothing in flight', async () => {
  // Two answered would take 2 x HOLD_MS; the client leaves after the first.
  const result = await rawRequest(broker.httpPort, pipelined(5, 'd'), { until: (text) => splitResponses(text).length >= 1 });
  assert.equal(splitResponses(result.text)[0]!.body, '/d/0');
  await waitFor('nothing in flight', async () => (await brokerStatus(broker.httpPort)).http.inflight === 0);
});

test('a malformed request pipelined behind a response being streamed cuts the connection: no error answer inside that body', async () => {
  // The backend sends a head and part of the body, then holds the rest until the test releases it.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const streaming = await httpBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first part;');
    void released.then(() => res.end('rest'));
  });
  const temp = tempDir('pb-pipelining-stream-');
  const own = await startHttpBroker(['--servers', writeServersConf(temp.dir, [{ port: streaming.port }]), '--health-interval', '0']);
  const socket = connect({ port: own.httpPort, host: '127.0.0.1' });
  try {
    let text = '';
    socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = once(socket, 'close');
    socket.write('GET /stream HTTP/1.1\r\nHost: test\r\n\r\n');
    await waitFor('the first part of the body', () => text.includes('first part;'));
    socket.write('GET /bad HTTP/1.1\r\nHost: test\r\nContent-Length: nope\r\n\r\n');
    await closed;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(!text.includes('HTTP/1.1 400'), `an error answer was written into the streamed body: ${JSON.stringify(text)}`);
    assert.ok(!text.includes('rest'), 'the held part was never sent, so the response must be cut');
  } finally {
    socket.destroy();
    release();
    await own.broker.stop();
    await streaming.close();
    temp.remove();
  }
});
