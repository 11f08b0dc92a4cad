import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { type Program } from '../helpers/programs.js';
import { brokerStatus, get, rawRequest, startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers, type HttpBroker } from '../helpers/http.js';

const programs: Program[] = [];
let strict: HttpBroker;
let limited: HttpBroker;
let guarded: HttpBroker;

before(async () => {
  [strict, limited, guarded] = await Promise.all([
    startHttpBroker(['--http-max-header-bytes', '4096', '--http-headers-timeout', '300', '--http-keep-alive-timeout', '300']),
    startHttpBroker(['--http-max-connections', '4', '--http-max-inflight', '2']),
    startHttpBroker(['--http-token', 't0k3n', '--upstream-token', 'up-s3cret']),
  ]);
  programs.push(strict.broker, limited.broker, guarded.broker);
  const pools = await Promise.all([strict, limited, guarded].map((b) => startHttpPool(b.port, ['--count', '2'])));
  programs.push(...pools.map((p) => p.pool));
  await waitForLiveHttpServers(strict.httpPort, 111, 2);
  await waitForLiveHttpServers(limited.httpPort, 111, 2);
  await waitForLiveHttpServers(guarded.httpPort, 111, 2, { authorization: 'Bearer t0k3n' });
});

after(async () => {
  for (const program of programs.reverse()) await program.stop();
});

const H = 'Host: t\r\n';
const SMUGGLING: Record<string, string> = {
  'Content-Length with Transfer-Encoding': `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  'Transfer-Encoding with Content-Length': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`,
  'two different Content-Lengths': `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
  'two equal Content-Lengths': `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
  'a signed Content-Length': `POST / HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\nabcd`,
  'a negative Content-Length': `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`,
  'a Content-Length with junk': `POST / HTTP/1.1\r\n${H}Content-Length: 4x\r\n\r\nabcd`,
  'a Content-Length list': `POST / HTTP/1.1\r\n${H}Content-Length: 4, 4\r\n\r\nabcd`,
  'a coding before chunked': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  'chunked not last': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
  'an unknown coding': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  'two Transfer-Encodings': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  'a space before the colon': `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
  'Transfer-Encoding on HTTP/1.0': 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'a folded header line': `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`,
  'bare LF line ends': 'GET / HTTP/1.1\nHost: t\n\n',
  'a bad chunk size': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
  'a chunk size ended by LF': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`,
  'Content-Length in the trailers': `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n`,
  'a NUL in a header': `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`,
  'a space in a header name': `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`,
  'two Host headers': 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'no Host on HTTP/1.1': 'GET / HTTP/1.1\r\n\r\n',
  'a target that is not a path': `GET x HTTP/1.1\r\n${H}\r\n`,
  'an asterisk target': `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
  'an oversized head': `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(5000)}\r\n\r\n`,
};

test('smuggling shapes and malformed requests get 400 and a closed connection, and reach no backend', async () => {
  const before = (await brokerStatus(strict.httpPort)).http.proxied;
  for (const [shape, bytes] of Object.entries(SMUGGLING)) {
    const result = await rawRequest(strict.httpPort, bytes);
    assert.match(result.text, /^HTTP\/1\.1 400 Bad Request\r\n/, `${shape}: ${JSON.stringify(result.text.slice(0, 200))}`);
    assert.equal(result.closed, true, `${shape}: connection left open`);
    const body = JSON.parse(result.text.slice(result.text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'BAD_REQUEST', shape);
  }
  const http2 = await rawRequest(strict.httpPort, `GET / HTTP/2.0\r\n${H}\r\n`);
  assert.match(http2.text, /^HTTP\/1\.1 505 /);
  const tunnel = await rawRequest(strict.httpPort, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(tunnel.text, /^HTTP\/1\.1 405 /);
  assert.equal(tunnel.closed, true);
  assert.equal((await brokerStatus(strict.httpPort)).http.proxied, before);
});

test('a client slow to send its headers gets 408 and is closed; an idle keep-alive connection is closed', async () => {
  const started = Date.now();
  const slow = await rawRequest(strict.httpPort, `GET / HTTP/1.1\r\n${H}`, { timeoutMs: 5000 });
  assert.equal(slow.closed, true);
  assert.match(slow.text, /^HTTP\/1\.1 408 /);
  assert.ok(Date.now() - started < 3000);
  const silent = await rawRequest(strict.httpPort, '', { timeoutMs: 5000 });
  assert.equal(silent.closed, true);
  const idle = await rawRequest(strict.httpPort, `GET /bench HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 5000 });
  assert.equal(idle.closed, true, 'an idle keep-alive connection stayed open');
  assert.match(idle.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n1$/);
});

test('past --http-max-inflight requests get 503 OVERLOADED; past --http-max-connections 503 and a close', async () => {
  const statusPool = new Pool(limited.origin, { connections: 1 });
  const slowPool = new Pool(limited.origin, { connections: 2 });
  const extraPool = new Pool(limited.origin, { connections: 1 });
  try {
    const slow = [0, 1].map(async () => {
      const res = await slowPool.request({ path: '/bench?wait=800', method: 'GET' });
      return [res.statusCode, await res.body.text()];
    });
    await waitFor('two requests in flight', async () => {
      const res = await statusPool.request({ path: '/_broker/status', method: 'GET' });
      return (JSON.parse(await res.body.text()) as any).http.inflight === 2;
    });
    const overloaded = await extraPool.request({ path: '/bench', method: 'GET' });
    assert.equal(overloaded.statusCode, 503);
    assert.equal(((await overloaded.body.json()) as any).code, 'OVERLOADED');
    // Four connections are open now (status, two slow, extra): a fifth is one too many.
    const fifth = await rawRequest(limited.httpPort, `GET /bench HTTP/1.1\r\n${H}\r\n`);
    assert.match(fifth.text, /^HTTP\/1\.1 503 /);
    assert.match(fifth.text, /TOO_MANY_CONNECTIONS/);
    assert.equal(fifth.closed, true);
    assert.deepEqual(await Promise.all(slow), [[200, '1'], [200, '1']]);
  } finally {
    await Promise.all([statusPool.close(), slowPool.close(), extraPool.close()]);
  }
});

test('--http-token: 401 without the bearer token; the backend gets --upstream-token instead of it', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 't0k3n' }] as Record<string, string>[]) {
    const res = await get(`${guarded.origin}/api`, headers);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(JSON.parse(res.body).code, 'UNAUTHORIZED');
  }
  const ok = await get(`${guarded.origin}/api`, { authorization: 'Bearer t0k3n' });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).headers.authorization, 'Bearer up-s3cret');
  assert.equal((await get(`${guarded.origin}/_broker/status`)).status, 401);
  assert.equal((await get(`${guarded.origin}/_broker/status`, { authorization: 'Bearer t0k3n' })).status, 200);
  assert.equal((await get(`${guarded.origin}/_broker/health`)).status, 200);
});

test('a client that hangs up mid-response is counted and frees its slot', async () => {
  const socket = connect({ port: strict.httpPort, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(`GET /data?size=50000000 HTTP/1.1\r\n${H}\r\n`);
  await once(socket, 'data');
  socket.destroy();
  await waitFor('the aborted request to be let go', async () => {
    const status = await brokerStatus(strict.httpPort);
    return status.http.inflight === 0 && status.http.clientAborts >= 1;
  });
});
