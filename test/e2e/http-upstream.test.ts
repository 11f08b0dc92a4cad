/**
 * A backend's connections (createUpstream: undici's Pool, one request at a time on each), against a node:http server of the test's own on
 * loopback that counts connections and the requests it holds: at most `connections` at once,
 * the rest wait in order; connections are reused; close() lets the waiting requests finish;
 * destroy() fails them; nothing is taken once closed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import type { Dispatcher, Pool } from 'undici';
import { createUpstream } from '../../broker/http/upstream.js';

let server: Server;
let origin: string;
let holding = 0;
let mostHeld = 0;
let connections = 0;
const arrived: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    holding++;
    mostHeld = Math.max(mostHeld, holding);
    arrived.push(req.url!);
    const wait = Number(new URL(req.url!, 'http://x').searchParams.get('wait') ?? 0);
    setTimeout(() => {
      holding--;
      res.end(req.url);
    }, wait);
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

beforeEach(() => {
  mostHeld = 0;
  connections = 0;
  arrived.length = 0;
});

/** The outcome of one request: its status and body, or the error's code. */
type Outcome = { status: number; body: string } | { error: string };

/** A dispatch handler (undici's handler interface, as the proxy's Exchange implements it) that resolves with the outcome. */
function request(pool: Pool, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    const handler: Dispatcher.DispatchHandler = {
      // undici tells the two handler interfaces apart by this method.
      onRequestStart() {},
      onResponseStart(_controller, code) {
        status = code;
      },
      onResponseData(_controller, chunk) {
        body += chunk.toString();
      },
      onResponseEnd() {
        resolve({ status, body });
      },
      onResponseError(_controller, err) {
        resolve({ error: (err as { code?: string }).code ?? err.message });
      },
    };
    pool.dispatch({ method: 'GET', path, headers: {} }, handler);
  });
}

test('at most `connections` requests are on the backend at once; the rest wait their turn', async () => {
  const pool = createUpstream(origin, { connections: 3 });
  const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => request(pool, `/r${i}?wait=15`)));
  assert.deepEqual(
    outcomes,
    Array.from({ length: 12 }, (_, i) => ({ status: 200, body: `/r${i}?wait=15` })),
  );
  assert.equal(mostHeld, 3);
  assert.equal(connections, 3);
  assert.equal(pool.stats.connected, 3);
  assert.equal(pool.stats.queued, 0);
  // Each reached the backend once. (Their order across connections is the kernel's: clients
  // freed in one tick send on different sockets. The FIFO itself is checked with one connection.)
  assert.deepEqual([...arrived].sort(), Array.from({ length: 12 }, (_, i) => `/r${i}?wait=15`).sort());
  await pool.close();
});

test('requests one after another reuse their connections', async () => {
  const pool = createUpstream(origin, { connections: 8 });
  for (let i = 0; i < 20; i++) assert.deepEqual(await request(pool, `/s${i}`), { status: 200, body: `/s${i}` });
  // A client is free again on undici's 'drain', a microtask after the response's last
  // callback: a request sent from that callback finds it still busy and takes a second one.
  assert.ok(connections <= 2, `${connections} connections for 20 requests in a row`);
  assert.equal(pool.stats.connected, connections);
  await pool.close();
});

test('waiting requests go in arrival order; close() lets them finish; later ones are refused', async () => {
  const pool = createUpstream(origin, { connections: 1 });
  const taken = [request(pool, '/a?wait=20'), request(pool, '/b'), request(pool, '/c')];
  const closed = pool.close();
  assert.deepEqual(await request(pool, '/late'), { error: 'UND_ERR_CLOSED' });
  assert.deepEqual(await Promise.all(taken), [
    { status: 200, body: '/a?wait=20' },
    { status: 200, body: '/b' },
    { status: 200, body: '/c' },
  ]);
  await closed;
  assert.deepEqual(arrived, ['/a?wait=20', '/b', '/c']);
});

test('destroy() fails the waiting requests at once and cuts the one in flight', async () => {
  const pool = createUpstream(origin, { connections: 1 });
  const inFlight = request(pool, '/slow?wait=5000');
  const waiting = [request(pool, '/w1'), request(pool, '/w2')];
  assert.equal(pool.stats.queued, 2);
  await pool.destroy();
  assert.deepEqual(await Promise.all(waiting), [{ error: 'UND_ERR_DESTROYED' }, { error: 'UND_ERR_DESTROYED' }]);
  assert.ok('error' in (await inFlight));
  assert.deepEqual(await request(pool, '/late'), { error: 'UND_ERR_DESTROYED' });
});

test('a backend that is not there fails each request with the connect error, and the pool stays usable', async () => {
  const gone = createServer();
  gone.listen(0, '127.0.0.1');
  await once(gone, 'listening');
  const port = (gone.address() as AddressInfo).port;
  gone.close();
  const pool = createUpstream(`http://127.0.0.1:${port}`, { connections: 2 });
  const outcomes = await Promise.all(Array.from({ length: 5 }, (_, i) => request(pool, `/x${i}`)));
  assert.deepEqual(outcomes, Array.from({ length: 5 }, () => ({ error: 'ECONNREFUSED' })));
  assert.equal(pool.stats.queued, 0);
  await pool.destroy();
});
