/**
 * Passive health as nginx's max_fails: a reused keep-alive connection the backend closes
 * without answering is retried and not counted; --max-fails failed requests in a row take a
 * backend out, fewer do not; failures that look like a connection limit never take out a
 * policy's last live backend. Requests are sent one at a time, so the order is the test's.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Program } from '../helpers/programs.js';
import { get, httpServersOf, rawBackend, startHttpBroker, tempDir, writeServersConf } from '../helpers/http.js';

const programs: Program[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

after(async () => {
  for (const program of programs.reverse()) await program.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok';

/** Whether each backend of `policy` is in or out, in servers.conf order ('connecting' is in: not answered yet). */
async function states(httpPort: number, policy: number): Promise<string[]> {
  return (await httpServersOf(httpPort, policy)).map((s: any) => (s.state === 'down' ? 'down' : 'up'));
}

test('a reused keep-alive connection closed without an answer: the GET succeeds and the backend stays up', async () => {
  const temp = tempDir('http-stale-');
  cleanups.push(() => temp.remove());
  // Answers the first request on each connection, closes the connection on the second.
  const served = new WeakMap<object, number>();
  const closesReused = await rawBackend((_head, socket) => {
    const n = (served.get(socket) ?? 0) + 1;
    served.set(socket, n);
    if (n === 1) socket.write(OK);
    else socket.end();
  });
  const steady = await rawBackend((_head, socket) => socket.write(OK));
  cleanups.push(() => closesReused.close(), () => steady.close());
  const conf = writeServersConf(temp.dir, [{ port: closesReused.port }, { port: steady.port }]);
  // One connection per backend, so the third request meets the first one's connection;
  // --max-fails 1, so that counting the close as a failure would take the backend out.
  const { broker, origin, httpPort } = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--max-fails', '1', '--upstream-connections', '1']);
  programs.push(broker);
  for (let i = 0; i < 4; i++) {
    const res = await get(`${origin}/`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'ok');
  }
  // Requests 1 and 3 (reused, closed) went to it, then the retry of 3 or request 4 on a new connection.
  assert.ok(closesReused.requests.length >= 2, `requests seen: ${closesReused.requests.length}`);
  assert.deepEqual(await states(httpPort, 111), ['up', 'up']);
});

test('--max-fails failed requests in a row take a backend out, fewer do not; the last live backend stays for connection-limit failures', async () => {
  const temp = tempDir('http-max-fails-');
  cleanups.push(() => temp.remove());
  // Reads each request and closes the new connection without a byte, as nginx past its worker_connections.
  const closes = await rawBackend((_head, socket) => socket.end());
  const steady = await rawBackend((_head, socket) => socket.write(OK));
  cleanups.push(() => closes.close(), () => steady.close());
  const conf = writeServersConf(temp.dir, [
    { port: closes.port, policy: 801 },
    { port: steady.port, policy: 801 },
    { port: closes.port, policy: 802 },
  ]);
  const { broker, origin, httpPort } = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--max-fails', '3', '--fail-timeout', '600000']);
  programs.push(broker);
  const closed = () => closes.requests.length;
  // Every GET that meets the closing backend is retried on the steady one.
  for (let i = 0; i < 20 && closed() < 3; i++) {
    const res = await get(`${origin}/`, { 'x-privacy-policy': '801' });
    assert.equal(res.status, 200, res.body);
    if (closed() < 3) assert.deepEqual(await states(httpPort, 801), ['up', 'up'], `after ${closed()} failures`);
  }
  assert.equal(closed(), 3);
  assert.deepEqual(await states(httpPort, 801), ['down', 'up']);
  // Alone in its policy: its requests fail (all --max-attempts of them), it stays in.
  for (let i = 0; i < 2; i++) {
    const res = await get(`${origin}/`, { 'x-privacy-policy': '802' });
    assert.equal(res.status, 502);
    assert.match(JSON.parse(res.body).message, /closed the connection without an answer/);
  }
  assert.equal(closed(), 3 + 2 * 3);
  assert.deepEqual(await states(httpPort, 802), ['up']);
});
