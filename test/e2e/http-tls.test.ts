/**
 * HTTPS on the HTTP front end: with --tls-cert/--tls-key the HTTP listener speaks TLS (HTTP/1.1
 * only), like the packet listener, with a certificate made for the test. Backends stay plain
 * HTTP and see X-Forwarded-Proto: https. Plain HTTP on the TLS port gets a closed connection and
 * the broker keeps serving; the header timeout and shutdown hold over TLS too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { Pool } from 'undici';
import { makeTestCa, type TestCa } from '../helpers/certs.js';
import { rawRequest, startHttpBroker, startHttpPool, waitFor, type HttpBroker } from '../helpers/http.js';
import type { Program } from '../helpers/programs.js';

let ca: TestCa;
let other: TestCa;
let broker: HttpBroker;
let caPem: Buffer;
const programs: Program[] = [];

before(async () => {
  ca = await makeTestCa();
  other = await makeTestCa('some other CA');
  caPem = readFileSync(ca.ca);
  broker = await startHttpBroker(['--tls-cert', ca.cert, '--tls-key', ca.key]);
  programs.push(broker.broker);
  // The packet port speaks TLS too, so the pool registers over TLS; its HTTP servers are plain.
  const { pool } = await startHttpPool(broker.port, ['--tls', '--ca', ca.ca, '--policy', '111', '--ids', '100,101']);
  programs.push(pool);
});

after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  await ca?.remove();
  await other?.remove();
});

/** One HTTPS request on a fresh connection that trusts `trust`. */
async function httpsGet(port: number, path: string, headers: Record<string, string> = {}, trust = caPem) {
  const client = new Pool(`https://127.0.0.1:${port}`, { connections: 1, connect: { ca: trust } });
  try {
    const res = await client.request({ path, method: 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  } finally {
    await client.close();
  }
}

test('an HTTPS request is proxied to a plain-HTTP pool server, which sees X-Forwarded-Proto: https', async () => {
  const ids = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const res = await httpsGet(broker.httpPort, '/api', { 'x-privacy-policy': '111', 'x-forwarded-proto': 'http' });
    assert.equal(res.status, 200, res.body);
    const page = JSON.parse(res.body);
    assert.equal(page.headers['x-forwarded-proto'], 'https');
    ids.add(String(res.headers['x-server-id']));
  }
  assert.deepEqual([...ids].sort(), ['100', '101']);
  const status = await httpsGet(broker.httpPort, '/_broker/status');
  assert.equal(status.status, 200);
});

test('the HTTPS listener offers HTTP/1.1 only', async () => {
  const socket = connectTls({ host: '127.0.0.1', port: broker.httpPort, ca: caPem, ALPNProtocols: ['h2', 'http/1.1'] });
  await once(socket, 'secureConnect');
  assert.equal(socket.alpnProtocol, 'http/1.1');
  socket.destroy();
});

test('plain HTTP on the TLS port gets no HTTP answer, only a closed connection; the broker keeps serving', async () => {
  const plain = await rawRequest(broker.httpPort, 'GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Privacy-Policy: 111\r\n\r\n');
  assert.equal(plain.closed, true);
  assert.ok(!plain.text.includes('HTTP/1.'), `answered in the clear: ${JSON.stringify(plain.text)}`);
  // A client that does not trust the broker's certificate cannot connect.
  await assert.rejects(httpsGet(broker.httpPort, '/api', { 'x-privacy-policy': '111' }, readFileSync(other.ca)));
  const res = await httpsGet(broker.httpPort, '/api', { 'x-privacy-policy': '111' });
  assert.equal(res.status, 200);
});

test('over TLS too: a slow request head gets 408, a stalled handshake is closed', async () => {
  const slow = await startHttpBroker(['--tls-cert', ca.cert, '--tls-key', ca.key, '--http-headers-timeout', '300']);
  programs.push(slow.broker);
  const socket = connectTls({ host: '127.0.0.1', port: slow.httpPort, ca: caPem });
  await once(socket, 'secureConnect');
  let text = '';
  socket.setEncoding('latin1').on('data', (data: string) => (text += data));
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  await waitFor('the TLS connection closed', () => socket.destroyed || socket.readableEnded, 5000);
  assert.match(text, /^HTTP\/1\.1 408 /);

  const started = Date.now();
  const silent = connect({ host: '127.0.0.1', port: slow.httpPort });
  silent.on('error', () => undefined);
  await once(silent, 'connect');
  await once(silent, 'close');
  assert.ok(Date.now() - started < 5000, 'the handshake timed out');
});

test('shutdown does not wait for a connection stuck in its TLS handshake', async () => {
  const stopping = await startHttpBroker(['--tls-cert', ca.cert, '--tls-key', ca.key, '--drain-timeout', '200']);
  programs.push(stopping.broker);
  const silent = connect({ host: '127.0.0.1', port: stopping.httpPort });
  silent.on('error', () => undefined);
  await once(silent, 'connect');
  const started = Date.now();
  assert.equal(await stopping.broker.stop('SIGTERM'), 0);
  // The handshake timeout (--http-headers-timeout) is 10 s.
  assert.ok(Date.now() - started < 5000, `exit took ${Date.now() - started} ms`);
  silent.destroy();
});
