import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { type Program } from '../helpers/programs.js';
import { brokerStatus, closedPort, get, rawRequest, startHttpBroker, tempDir, waitFor, writeServersConf, type HttpBroker } from '../helpers/http.js';
import { ask, closed, mustOpen, openWs, wsBackend, type WsBackend } from '../helpers/ws.js';

// One broker over static WebSocket backends: policy 111 (the default) by a and b, 222 by c,
// 333 by a static entry where nothing listens. A short keep-alive and socket timeout, so that an
// idle WebSocket must outlive them.
const temp = tempDir('http-ws-');
const programs: Program[] = [];
let a: WsBackend;
let b: WsBackend;
let c: WsBackend;
let broker: HttpBroker;
let wsOrigin: string;

before(async () => {
  [a, b, c] = await Promise.all([wsBackend('a'), wsBackend('b'), wsBackend('c')]);
  const conf = writeServersConf(temp.dir, [
    { port: a.port },
    { port: b.port },
    { port: c.port, policy: 222 },
    { port: await closedPort(), policy: 333 },
    { port: await closedPort(), policy: 555 },
    { port: a.port, policy: 555 },
  ]);
  broker = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--http-keep-alive-timeout', '300', '--http-socket-timeout', '400', '--http-token', 'tok']);
  programs.push(broker.broker);
  wsOrigin = `ws://127.0.0.1:${broker.httpPort}`;
});

after(async () => {
  await Promise.all(programs.map((p) => p.stop()));
  await Promise.all([a, b, c].map((s) => s?.close()));
  temp.remove();
});

const auth = { authorization: 'Bearer tok' };
const status = (): Promise<any> => brokerStatus(broker.httpPort, auth);

describe('WebSocket through the HTTP front end', () => {
  test('the 101 comes back with the backend\'s headers; text and binary messages echo', async () => {
    const r = await openWs(`${wsOrigin}/chat`, auth);
    assert.ok(r.ok);
    assert.match(String(r.headers['x-server']), /^[ab]$/);
    assert.ok(typeof r.headers['x-request-id'] === 'string');
    const text = await ask(r.ws, 'hello');
    assert.equal(text.data.toString(), 'hello');
    assert.equal(text.binary, false);
    const bytes = Buffer.from([0, 1, 2, 255, 254, 0]);
    const bin = await ask(r.ws, bytes);
    assert.equal(bin.binary, true);
    assert.deepEqual(bin.data, bytes);
    const big = Buffer.alloc(1 << 20, 7);
    assert.deepEqual((await ask(r.ws, big)).data, big);
    r.ws.close(1000, 'bye');
    assert.deepEqual(await closed(r.ws), { code: 1000, reason: 'bye' });
  });

  test('many connections at once, spread over the policy\'s servers, never another policy\'s', async () => {
    const sockets = await Promise.all(Array.from({ length: 60 }, () => mustOpen(wsOrigin, auth)));
    const names = await Promise.all(sockets.map(async (ws) => (await ask(ws, 'name?')).data.toString()));
    assert.deepEqual(new Set(names), new Set(['a', 'b']));
    const others = await Promise.all(Array.from({ length: 10 }, () => mustOpen(wsOrigin, { ...auth, 'x-privacy-policy': '222' })));
    for (const ws of others) assert.equal((await ask(ws, 'name?')).data.toString(), 'c');
    const s = await status();
    assert.equal(s.http.upgrades.open, 70);
    const open111 = s.http.upgrades.openByServer.filter((o: any) => o.policy === 111).reduce((n: number, o: any) => n + o.open, 0);
    assert.equal(open111, 60);
    // Each backend is busy (outstanding) while its WebSockets are open.
    const servers = s.policies.find((p: any) => p.policy === 111).httpServers;
    assert.equal(servers.reduce((n: number, x: any) => n + x.inflight, 0), 60);
    await Promise.all([...sockets, ...others].map((ws) => (ws.close(), closed(ws))));
    await waitFor('the tunnels to close', async () => (await status()).http.upgrades.open === 0);
    const after = await status();
    assert.equal(after.policies.find((p: any) => p.policy === 111).httpServers.reduce((n: number, x: any) => n + x.inflight, 0), 0);
    assert.ok(after.http.upgrades.bytesToBackend > 0 && after.http.upgrades.bytesToClient > 0);
  });

  test('nothing buffers the stream: a client that does not read holds the backend back, not the broker\'s memory', async () => {
    const own = await startHttpBroker(['--servers', writeServersConf(temp.dir, [{ port: a.port }]), '--health-interval', '0']);
    programs.push(own.broker);
    const ws = await mustOpen(`ws://127.0.0.1:${own.httpPort}`);
    const rssBefore = (await brokerStatus(own.httpPort)).memory.rss as number;
    ws.pause();
    ws.send('flood 120');
    // 120 MiB sent by the backend; with the client not reading, most of it must wait in the backend.
    await waitFor('the backend to be held back', () => a.buffered() > 60 << 20, 20_000, 20);
    const rssHeld = (await brokerStatus(own.httpPort)).memory.rss as number;
    assert.ok(rssHeld - rssBefore < 64 << 20, `broker RSS grew by ${Math.round((rssHeld - rssBefore) / 1048576)} MiB`);
    // Reading again, everything arrives.
    let received = 0;
    ws.on('message', (data: Buffer) => (received += data.length));
    ws.resume();
    await waitFor('the 120 MiB to arrive', () => received === 120 << 20, 60_000, 20);
    ws.close();
    await closed(ws);
    await own.broker.stop();
  });

  test('the backend\'s close code and reason reach the client', async () => {
    const ws = await mustOpen(wsOrigin, auth);
    ws.send('close 4001 gone fishing');
    assert.deepEqual(await closed(ws), { code: 4001, reason: 'gone fishing' });
  });

  test('an idle WebSocket outlives the keep-alive and socket timeouts', async () => {
    const ws = await mustOpen(wsOrigin, auth);
    // A keep-alive HTTP connection opened at the same time is closed by the broker...
    const plain = connect(broker.httpPort, '127.0.0.1');
    plain.write('GET /_broker/health HTTP/1.1\r\nHost: x\r\n\r\n');
    const plainClosed = new Promise<number>((resolve) => plain.once('close', () => resolve(Date.now())));
    plain.resume();
    const closedAt = await plainClosed;
    // ...and past the socket timeout too, the WebSocket still works.
    await waitFor('the socket timeout to pass', () => Date.now() - closedAt > 400, 5000, 50);
    assert.equal(ws.readyState, ws.OPEN);
    assert.equal((await ask(ws, 'still there')).data.toString(), 'still there');
    ws.close();
    await closed(ws);
  });

  test('refused before switching: unknown policy 404, no live server 502/503, token 401, bad policy 400', async () => {
    const unknown = await openWs(wsOrigin, { ...auth, 'x-privacy-policy': '999' });
    assert.ok(!unknown.ok);
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).code, 'UNKNOWN_POLICY');
    const dead = await openWs(wsOrigin, { ...auth, 'x-privacy-policy': '333' });
    assert.ok(!dead.ok);
    assert.ok([502, 503].includes(dead.status), `status ${dead.status}`);
    const noToken = await openWs(wsOrigin);
    assert.ok(!noToken.ok);
    assert.equal(noToken.status, 401);
    const badPolicy = await openWs(wsOrigin, { ...auth, 'x-privacy-policy': 'x' });
    assert.ok(!badPolicy.ok);
    assert.equal(badPolicy.status, 400);
    const admin = await openWs(`${wsOrigin}/_broker/status`, auth);
    assert.ok(!admin.ok);
    assert.equal(admin.status, 404);
    const s = await status();
    assert.ok(s.http.upgrades.refused.UNKNOWN_POLICY >= 1);
    assert.ok(s.http.upgrades.refused.UNAUTHORIZED >= 1);
  });

  test('a backend that fails before its 101 is retried on another, like a GET', async () => {
    const before = (await status()).http.retries;
    for (let i = 0; i < 4; i++) {
      const ws = await mustOpen(wsOrigin, { ...auth, 'x-privacy-policy': '555' });
      assert.equal((await ask(ws, 'name?')).data.toString(), 'a');
      ws.close();
      await closed(ws);
    }
    assert.ok((await status()).http.retries > before);
  });

  test('--http-upgrade-idle-timeout closes a WebSocket with no bytes either way', async () => {
    const own = await startHttpBroker(['--servers', writeServersConf(temp.dir, [{ port: a.port }]), '--health-interval', '0', '--http-upgrade-idle-timeout', '300']);
    programs.push(own.broker);
    const ws = await mustOpen(`ws://127.0.0.1:${own.httpPort}`);
    assert.equal((await ask(ws, 'x')).data.toString(), 'x');
    const { code } = await closed(ws);
    assert.equal(code, 1006);
    const s = await brokerStatus(own.httpPort);
    assert.equal(s.http.upgrades.open, 0);
    assert.equal(s.http.upgrades.closed, 1);
    await own.broker.stop();
  });

  test('a backend answering other than 101 has its answer relayed, and the connection closed', async () => {
    const r = await openWs(`${wsOrigin}/refuse`, auth);
    assert.ok(!r.ok);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'not for you');
    assert.match(String(r.headers['x-server']), /^[ab]$/);
  });

  test('h2c and unknown tokens go as plain requests: the answer, then the connection closes', async () => {
    const r = await rawRequest(broker.httpPort, 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.match(r.text, /plain [ab]$/);
    assert.doesNotMatch(r.text, /101/);
  });

  test('an upgrade request with a body is refused', async () => {
    const r = await rawRequest(broker.httpPort, 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc');
    assert.match(r.text, /^HTTP\/1\.1 400 /);
  });

  test('a backend killed mid-stream: the client sees the end, the broker serves on', async () => {
    const victim = await wsBackend('victim');
    const conf = writeServersConf(temp.dir, [{ port: victim.port, policy: 444 }, { port: c.port, policy: 444 }]);
    const own = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--algorithm', 'first']);
    programs.push(own.broker);
    const origin = `ws://127.0.0.1:${own.httpPort}`;
    const ws = await mustOpen(origin, { 'x-privacy-policy': '444' });
    assert.equal((await ask(ws, 'name?')).data.toString(), 'victim');
    victim.kill();
    const end = await closed(ws);
    assert.equal(end.code, 1006);
    const next = await mustOpen(origin, { 'x-privacy-policy': '444' });
    assert.equal((await ask(next, 'name?')).data.toString(), 'c');
    assert.equal((await get(`${own.origin}/`, { 'x-privacy-policy': '444' })).status, 200);
    next.close();
    await closed(next);
    await own.broker.stop();
  });

  test('connections past --http-max-connections are refused, upgraded ones counting', async () => {
    const own = await startHttpBroker(['--servers', writeServersConf(temp.dir, [{ port: a.port }]), '--health-interval', '0', '--http-max-connections', '2']);
    programs.push(own.broker);
    const origin = `ws://127.0.0.1:${own.httpPort}`;
    const first = await mustOpen(origin);
    const second = await mustOpen(origin);
    const third = await openWs(origin);
    assert.ok(!third.ok);
    assert.equal(third.status, 503);
    assert.equal(JSON.parse(third.body).code, 'TOO_MANY_CONNECTIONS');
    for (const ws of [first, second]) ws.close();
    await own.broker.stop();
  });

  test('drain: WebSockets run on through the drain window, then close; the broker exits', async () => {
    const own = await startHttpBroker(['--servers', writeServersConf(temp.dir, [{ port: a.port }]), '--health-interval', '0', '--drain-timeout', '1500']);
    programs.push(own.broker);
    const ws = await mustOpen(`ws://127.0.0.1:${own.httpPort}`);
    const end = closed(ws);
    own.broker.child.kill('SIGTERM');
    const refused = await waitFor('new connections refused', async () => {
      try {
        return (await get(`${own.origin}/`)).status === 503;
      } catch {
        return true;
      }
    });
    assert.ok(refused);
    assert.equal((await ask(ws, 'during the drain')).data.toString(), 'during the drain');
    const { code } = await end;
    assert.ok(code === 1006 || code === 1005 || code === 1001, `close code ${code}`);
    assert.equal(await own.broker.exited, 0);
  });
});

test('a plain undici client still gets plain answers (no upgrade asked)', async () => {
  const pool = new Pool(`http://127.0.0.1:${broker.httpPort}`);
  try {
    const res = await pool.request({ path: '/', method: 'GET', headers: auth });
    assert.equal(res.statusCode, 200);
    assert.match(await res.body.text(), /^plain [ab]$/);
  } finally {
    await pool.close();
  }
});
