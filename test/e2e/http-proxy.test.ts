import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { type Program } from '../helpers/programs.js';
import {
  brokerStatus,
  closedPort,
  get,
  rawBackend,
  rawRequest,
  splitResponses,
  startHttpBroker,
  startHttpPool,
  tempDir,
  waitForLiveHttpServers,
  writeServersConf,
  type HttpBroker,
} from '../helpers/http.js';

// One broker with HTTP on: policy 111 (the default) served by a pool of three HTTP servers,
// 222 by one more, 500 by a raw backend written here (for byte-exact framing cases), and
// 600 by a static entry on a port where nothing listens.
const programs: Program[] = [];
const temp = tempDir('http-proxy-');
let broker: HttpBroker;
let raw: Awaited<ReturnType<typeof rawBackend>>;
let client: Pool;

/** The raw backend's answers, by path. */
function rawAnswer(head: string, socket: import('node:net').Socket): void {
  const path = head.split(' ')[1]!;
  const send = (text: string): void => {
    socket.write(Buffer.from(text, 'latin1'));
  };
  switch (path) {
    case '/close-delimited':
      send('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello, ');
      setImmediate(() => socket.end('until the close'));
      return;
    case '/no-content':
      return send('HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n');
    case '/not-modified':
      return send('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n');
    case '/early-hints':
      return send('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
    case '/headers': {
      const body = head;
      return send(
        'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nProxy-Authenticate: Basic\r\nTrailer: X-Sum\r\n' +
          `X-Request-ID: chosen-by-backend\r\nX-Kept: yes\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`,
      );
    }
    default:
      return send('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  }
}

before(async () => {
  raw = await rawBackend(rawAnswer);
  const conf = writeServersConf(temp.dir, [
    { port: raw.port, policy: 500 },
    { port: await closedPort(), policy: 600 },
  ]);
  // Passive health only, so that every state change below is caused by the test's requests.
  broker = await startHttpBroker(['--servers', conf, '--health-interval', '0']);
  programs.push(broker.broker);
  const a = await startHttpPool(broker.port, ['--policy', '111', '--count', '3', '--id', '100']);
  const b = await startHttpPool(broker.port, ['--policy', '222', '--count', '1', '--id', '200']);
  programs.push(a.pool, b.pool);
  await waitForLiveHttpServers(broker.httpPort, 111, 3);
  await waitForLiveHttpServers(broker.httpPort, 222, 1);
  client = new Pool(broker.origin, { connections: 6 });
});

after(async () => {
  await client?.close();
  for (const program of programs.reverse()) await program.stop();
  await raw?.close();
  temp.remove();
});

test('3,000 keep-alive requests spread over three backends within 1% of even (round-robin per request)', async () => {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < 3000) {
      next++;
      const res = await client.request({ path: '/bench', method: 'GET' });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), '1');
      const id = String(res.headers['x-server-id']);
      counts[id] = (counts[id] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  assert.deepEqual(Object.keys(counts).sort(), ['100', '101', '102']);
  for (const count of Object.values(counts)) assert.ok(Math.abs(count - 1000) <= 10, `uneven: ${JSON.stringify(counts)}`);
  // One connection carried many requests to all three: balancing is per request.
  const one = new Pool(broker.origin, { connections: 1 });
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const res = await one.request({ path: '/bench', method: 'GET' });
    await res.body.dump();
    seen.add(String(res.headers['x-server-id']));
  }
  await one.close();
  assert.equal(seen.size, 3);
});

test('20 pipelined requests in one write are all answered, in order, by different backends', async () => {
  let bytes = '';
  for (let i = 0; i < 20; i++) bytes += `GET /api?n=${i} HTTP/1.1\r\nHost: test\r\n\r\n`;
  const result = await rawRequest(broker.httpPort, bytes, { until: (text) => splitResponses(text).length === 20 });
  const responses = splitResponses(result.text);
  assert.equal(responses.length, 20);
  const servers = new Set<string>();
  responses.forEach((response, i) => {
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).url, `/api?n=${i}`);
    servers.add(response.headers['x-server-id']!);
  });
  assert.equal(servers.size, 3);
});

test('a chunked response is streamed through whole; a chunked upload reaches the backend whole', async () => {
  const result = await rawRequest(broker.httpPort, 'GET /data?size=300000 HTTP/1.1\r\nHost: test\r\n\r\n', {
    until: (text) => text.endsWith('\r\n0\r\n\r\n'),
  });
  const [response] = splitResponses(result.text);
  assert.equal(response!.headers['transfer-encoding'], 'chunked');
  assert.equal(response!.body.length, 300000);
  const parts = Array.from({ length: 50 }, (_, i) => `part ${i};`);
  const res = await client.request({ path: '/echo', method: 'POST', body: Readable.from(parts) });
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), parts.join(''));
});

test('a close-delimited response reaches HTTP/1.1 clients chunked on a kept connection, HTTP/1.0 clients closed', async () => {
  const h11 = await rawRequest(
    broker.httpPort,
    'GET /close-delimited HTTP/1.1\r\nHost: t\r\nX-Privacy-Policy: 500\r\n\r\nGET /other HTTP/1.1\r\nHost: t\r\nX-Privacy-Policy: 500\r\n\r\n',
    { until: (text) => splitResponses(text).length === 2 },
  );
  const [first, second] = splitResponses(h11.text);
  assert.equal(first!.body, 'hello, until the close');
  assert.equal(first!.headers['transfer-encoding'], 'chunked');
  assert.equal(second!.body, 'ok');
  assert.equal(h11.closed, false);
  const h10 = await rawRequest(broker.httpPort, 'GET /close-delimited HTTP/1.0\r\nX-Privacy-Policy: 500\r\n\r\n');
  assert.equal(h10.closed, true);
  assert.match(h10.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(h10.text.endsWith('\r\n\r\nhello, until the close'), h10.text);
});

test('HEAD, 204, 304 and 103 keep the framing of the responses after them', async () => {
  const requests = [
    'HEAD /data?size=1000 HTTP/1.1\r\nHost: t\r\n\r\n',
    'GET /no-content HTTP/1.1\r\nHost: t\r\nX-Privacy-Policy: 500\r\n\r\n',
    'GET /not-modified HTTP/1.1\r\nHost: t\r\nX-Privacy-Policy: 500\r\n\r\n',
    'GET /early-hints HTTP/1.1\r\nHost: t\r\nX-Privacy-Policy: 500\r\n\r\n',
    'GET /bench HTTP/1.1\r\nHost: t\r\n\r\n',
  ];
  const complete = (text: string) => splitResponses(text).filter((r) => r.status >= 200).length === 5;
  const result = await rawRequest(broker.httpPort, requests.join(''), { until: complete });
  // An interim 103 is passed on only when its response is the one being sent (else dropped).
  const responses = splitResponses(result.text).filter((r) => r.status >= 200);
  assert.deepEqual(
    responses.map((r) => r.status),
    [200, 204, 304, 200, 200],
  );
  assert.equal(responses[0]!.body, '');
  assert.equal(responses[0]!.headers['content-length'], undefined);
  assert.equal(responses[1]!.headers['x-kind'], '204');
  assert.equal(responses[2]!.headers.etag, '"v1"');
  assert.equal(responses[3]!.body, 'final');
  assert.equal(responses[4]!.body, '1');
  const hinted = await rawRequest(broker.httpPort, requests[3]!, { until: (text) => splitResponses(text).length === 2 });
  const [hints, final] = splitResponses(hinted.text);
  assert.equal(hints!.status, 103);
  assert.equal(hints!.headers.link, '</style.css>; rel=preload');
  assert.equal(final!.body, 'final');
});

test('hop-by-hop headers are dropped both ways; X-Forwarded-* are added; X-Request-ID is kept and returned', async () => {
  const request =
    'GET /headers HTTP/1.1\r\nHost: front.example\r\nX-Privacy-Policy: 500\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n' +
    'Keep-Alive: 300\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n' +
    'X-Request-ID: test-id-1\r\nX-Custom: kept\r\n\r\n';
  const result = await rawRequest(broker.httpPort, request, { until: (text) => splitResponses(text).length === 1 });
  const [response] = splitResponses(result.text);
  const upstream = `${response!.body.toLowerCase()}\r\n`;
  for (const gone of ['x-secret', 'keep-alive: 300', 'te: trailers', 'proxy-authorization']) assert.ok(!upstream.includes(gone), `${gone} reached the backend`);
  assert.match(upstream, /\r\nx-custom: kept\r\n/);
  assert.match(upstream, /\r\nx-forwarded-for: 10\.0\.0\.1, 127\.0\.0\.1\r\n/);
  assert.match(upstream, /\r\nx-forwarded-proto: http\r\n/);
  assert.match(upstream, /\r\nx-forwarded-host: front\.example\r\n/);
  assert.match(upstream, /\r\nx-request-id: test-id-1\r\n/);
  assert.match(upstream, /^get \/headers http\/1\.1\r\nhost: front\.example\r\n/);
  assert.equal(response!.headers['x-hop'], undefined);
  assert.equal(response!.headers['proxy-authenticate'], undefined);
  assert.equal(response!.headers.trailer, undefined);
  assert.equal(response!.headers['x-kept'], 'yes');
  assert.equal(response!.headers['x-request-id'], 'test-id-1');
  // Without one, the broker makes an id, sends it to the backend and returns it.
  const res = await get(`${broker.origin}/api`);
  const seen = JSON.parse(res.body).headers['x-request-id'];
  assert.match(seen, /^[0-9a-f-]{36}$/);
  assert.equal(res.headers['x-request-id'], seen);
});

test('an Upgrade other than websocket (h2c) is answered as a plain request without its Upgrade header, then the connection closes', async () => {
  // WebSockets are proxied (http-websocket.test.ts); other tokens go as plain requests.
  const request = 'GET /api HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n';
  const result = await rawRequest(broker.httpPort, request, { until: (text) => splitResponses(text).length === 1 });
  const [response] = splitResponses(result.text);
  assert.equal(response!.status, 200);
  assert.equal(JSON.parse(response!.body).headers.upgrade, undefined);
  assert.equal(JSON.parse(response!.body).headers['http2-settings'], undefined);
  assert.equal(response!.headers['connection'], 'close');
});

test('X-Privacy-Policy picks the policy; an unknown one gets 404, an unreadable one 400, both JSON', async () => {
  const other = await get(`${broker.origin}/api`, { 'x-privacy-policy': '222' });
  assert.equal(other.status, 200);
  assert.equal(other.headers['x-server-id'], '200');
  const unknown = await get(`${broker.origin}/api`, { 'x-privacy-policy': '999' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(unknown.body).code, 'UNKNOWN_POLICY');
  assert.equal(JSON.parse(unknown.body).requestId, unknown.headers['x-request-id']);
  const bad = await get(`${broker.origin}/api`, { 'x-privacy-policy': '1x1' });
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).code, 'BAD_REQUEST');
});

test('a policy whose only server refuses: 502 naming the refusal, then 503 once --max-fails took it out', async () => {
  // The defaults: 3 attempts a request, out after 5 failures in a row. The first request
  // spends 3 attempts on it, the second 2 more, which take it out; the third finds none.
  for (let i = 0; i < 2; i++) {
    const refused = await get(`${broker.origin}/`, { 'x-privacy-policy': '600' });
    assert.equal(refused.status, 502);
    const body = JSON.parse(refused.body);
    assert.equal(body.code, 'BAD_GATEWAY');
    assert.match(body.message, /refused the connection/);
  }
  const third = await get(`${broker.origin}/`, { 'x-privacy-policy': '600' });
  assert.equal(third.status, 503);
  assert.equal(JSON.parse(third.body).code, 'NO_SERVER');
});

test('/_broker/status reports policies, packet and HTTP servers, states and counters; /_broker/ is never proxied', async () => {
  const rawBefore = raw.requests.length;
  const status = await brokerStatus(broker.httpPort);
  assert.equal(status.status, 'running');
  assert.equal(typeof status.memory.rss, 'number');
  assert.equal(status.http.address.port, broker.httpPort);
  assert.equal(status.packet.address.port, broker.port);
  assert.ok(status.http.requests > 3000);
  assert.ok(status.http.errors.UNKNOWN_POLICY >= 1);
  const byPolicy = Object.fromEntries(status.policies.map((p: any) => [p.policy, p]));
  const byId = (a: any, b: any) => a.id - b.id;
  assert.deepEqual(byPolicy[111].servers.map((s: any) => s.id).sort(), [100, 101, 102]);
  assert.ok(byPolicy[111].servers.every((s: any) => s.state === 'up' && s.httpPort > 0));
  const http111 = [...byPolicy[111].httpServers].sort(byId);
  assert.deepEqual(http111.map((s: any) => [s.id, s.source, s.state]), [[100, 'registered', 'up'], [101, 'registered', 'up'], [102, 'registered', 'up']]);
  assert.ok(http111.every((s: any) => s.served >= 1000 && s.inflight === 0));
  assert.deepEqual(byPolicy[500].servers, []);
  assert.equal(byPolicy[500].httpServers[0].source, 'static');
  assert.equal(byPolicy[500].httpServers[0].id, null);
  assert.equal(byPolicy[600].httpServers[0].state, 'down');
  assert.match(byPolicy[600].httpServers[0].lastError, /refused/);
  assert.deepEqual(JSON.parse((await get(`${broker.origin}/_broker/health`)).body), { status: 'ok' });
  const missing = await get(`${broker.origin}/_broker/nothing-here`, { 'x-privacy-policy': '500' });
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).code, 'NOT_FOUND');
  await get(`${broker.origin}/_broker/status?x=1`, { 'x-privacy-policy': '500' });
  assert.equal(raw.requests.length, rawBefore, 'an admin path reached a backend');
});
