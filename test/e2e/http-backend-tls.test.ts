/**
 * TLS to HTTP backends (servers.conf `"tls": true`, `"servername"`, --backend-ca): real HTTPS
 * backends with certificates from a CA made in the test. The broker verifies them: a
 * certificate of another CA, or of another name than the servername, is a 502 that names the
 * backend and a log line; a backend speaking plain HTTP is a 502 too. Health checks go over
 * HTTPS with the same checks. Each case is its own policy, so one broker serves them all.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { makeTestCa, type TestCa } from '../helpers/certs.js';
import { WebSocketServer } from 'ws';
import { FakeServer } from '../helpers/wire.js';
import { ask as askWs, mustOpen } from '../helpers/ws.js';
import { run } from '../helpers/programs.js';
import { get, httpBackend, httpServersOf, startHttpBroker, tempDir, waitFor, type HttpBroker } from '../helpers/http.js';

interface Seen {
  path: string;
  encrypted: boolean;
  servername: string | false | null | undefined;
}

/** An HTTPS backend with `cert`: answers 200 with what it saw, and remembers every request. */
async function httpsBackend(name: string, ca: TestCa): Promise<{ server: HttpsServer; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createHttpsServer({ cert: readFileSync(ca.cert), key: readFileSync(ca.key) }, (req, res) => {
    const socket = req.socket as TLSSocket;
    seen.push({ path: req.url ?? '', encrypted: socket.encrypted === true, servername: socket.servername });
    const body = JSON.stringify({ backend: name, servername: socket.servername ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  // A WebSocket handshake opens an echo (wss:// from the broker).
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ path: req.url ?? '', encrypted: (req.socket as TLSSocket).encrypted === true, servername: (req.socket as TLSSocket).servername });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  });
  server.on('close', () => wss.close());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, seen };
}

let ca: TestCa;
let other: TestCa;
let good: Awaited<ReturnType<typeof httpsBackend>>;
let untrusted: Awaited<ReturnType<typeof httpsBackend>>;
let plain: Awaited<ReturnType<typeof httpBackend>>;
let passive: HttpBroker;
let checked: HttpBroker;
const dir = tempDir('pb-backend-tls-');

/** Policies: 1 good, 2 untrusted CA, 3 wrong servername, 4 servername localhost, 5 plain HTTP behind "tls": true, 6 plain backend. */
function serversConf(file: string): string {
  const entries = [
    { ip: '127.0.0.1', port: good.port, policy: 1, tls: true },
    { ip: '127.0.0.1', port: untrusted.port, policy: 2, tls: true },
    { ip: '127.0.0.1', port: good.port, policy: 3, tls: true, servername: 'wrong.example' },
    { ip: '127.0.0.1', port: good.port, policy: 4, tls: true, servername: 'localhost' },
    { ip: '127.0.0.1', port: plain.port, policy: 5, tls: true },
    { ip: '127.0.0.1', port: plain.port, policy: 6 },
  ];
  const where = path.join(dir.dir, file);
  writeFileSync(where, JSON.stringify({ backend_servers: entries }));
  return where;
}

before(async () => {
  ca = await makeTestCa();
  other = await makeTestCa('some other CA');
  good = await httpsBackend('good', ca);
  untrusted = await httpsBackend('untrusted', other);
  plain = await httpBackend((_req, res) => res.end('plain'));
  // Passive health only: the failing backends stay in for the first requests, which get the 502.
  passive = await startHttpBroker(['--servers', serversConf('passive.conf'), '--backend-ca', ca.ca, '--health-interval', '0', '--max-attempts', '1']);
  checked = await startHttpBroker(['--servers', serversConf('checked.conf'), '--backend-ca', ca.ca, '--health-interval', '100', '--health-path', '/health', '--health-fall', '1', '--health-rise', '1']);
});

after(async () => {
  await passive?.broker.stop('SIGKILL');
  await checked?.broker.stop('SIGKILL');
  for (const server of [good?.server, untrusted?.server]) {
    server?.closeAllConnections();
    server?.close();
  }
  await plain?.close();
  await ca?.remove();
  await other?.remove();
  dir.remove();
});

const ask = (broker: HttpBroker, policy: number, path = '/') => get(`${broker.origin}${path}`, { 'x-privacy-policy': String(policy) });

test('a "tls": true backend is reached over HTTPS, its certificate verified against --backend-ca (no SNI for an IP address)', async () => {
  const before = good.seen.length;
  const res = await ask(passive, 1, '/hello');
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).backend, 'good');
  const seen = good.seen.slice(before).find((s) => s.path === '/hello');
  assert.ok(seen, 'the backend saw the request');
  assert.equal(seen.encrypted, true);
  assert.equal(seen.servername, false, 'no SNI to an IP address');
});

test('a WebSocket to a "tls": true backend goes over TLS (wss:// to the backend)', async () => {
  const ws = await mustOpen(`ws://127.0.0.1:${passive.httpPort}/socket`, { 'x-privacy-policy': '1' });
  try {
    assert.equal((await askWs(ws, 'over tls')).data.toString(), 'over tls');
    assert.equal(good.seen.find((s) => s.path === '/socket')?.encrypted, true);
  } finally {
    ws.terminate();
  }
});

test('a certificate of another CA is a 502 naming the backend, and a log line naming it', async () => {
  const res = await ask(passive, 2);
  assert.equal(res.status, 502, res.body);
  const body = JSON.parse(res.body);
  assert.equal(body.code, 'BAD_GATEWAY');
  assert.match(body.message, new RegExp(`TLS to server 127\\.0\\.0\\.1:${untrusted.port} failed: its certificate was not accepted`));
  assert.equal(untrusted.seen.length, 0, 'no request reached the untrusted backend');
  await waitFor('the log line', () => passive.broker.stderr().split('\n').find((line) => line.includes('TLS to HTTP server failed') && line.includes(`127.0.0.1:${untrusted.port}`)));
});

test('the servername is sent as SNI and checked in the certificate: a wrong one is a 502, localhost passes', async () => {
  const wrong = await ask(passive, 3);
  assert.equal(wrong.status, 502, wrong.body);
  assert.match(JSON.parse(wrong.body).message, /ERR_TLS_CERT_ALTNAME_INVALID|wrong\.example/);
  const right = await ask(passive, 4);
  assert.equal(right.status, 200, right.body);
  assert.equal(JSON.parse(right.body).servername, 'localhost');
});

test('the SNI is the servername, not the Host header a client sent', async () => {
  const res = await get(`${passive.origin}/`, { 'x-privacy-policy': '4', host: 'client.example' });
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).servername, 'localhost');
  const noName = await get(`${passive.origin}/`, { 'x-privacy-policy': '1', host: 'localhost' });
  assert.equal(noName.status, 200, noName.body);
  assert.equal(JSON.parse(noName.body).servername, false, 'no servername: the address, not the client\'s Host');
});

test('a plain-HTTP backend listed with "tls": true is a 502 (the handshake fails); without it, plain HTTP works', async () => {
  const res = await ask(passive, 5);
  assert.equal(res.status, 502, res.body);
  assert.match(JSON.parse(res.body).message, /TLS to server 127\.0\.0\.1:\d+ failed/);
  const ok = await ask(passive, 6);
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.body, 'plain');
});

test('a registered server announcing httptls has its httpport reached over HTTPS', async () => {
  const server = await FakeServer.start({ id: 700, policy: 7, brokerPort: passive.port, heartbeatMs: 200, fields: { httpport: good.port, httptls: true } });
  try {
    const before = good.seen.length;
    const res = await ask(passive, 7, '/registered');
    assert.equal(res.status, 200, res.body);
    assert.equal(good.seen.slice(before).find((s) => s.path === '/registered')?.encrypted, true);
  } finally {
    server.kill();
  }
});

test('health checks go over HTTPS with the same checks: the good backend is up, the untrusted and misnamed ones down', async () => {
  await waitFor('an HTTPS health check', () => good.seen.find((s) => s.path === '/health' && s.encrypted));
  const state = async (policy: number) => (await httpServersOf(checked.httpPort, policy))[0];
  await waitFor('policy 1 up', async () => ((await state(1))?.state === 'up' ? true : undefined));
  const down = await waitFor('policy 2 down', async () => {
    const server = await state(2);
    return server?.state === 'down' ? server : undefined;
  });
  assert.match(JSON.stringify(down), /certificate was not accepted/);
  await waitFor('policy 3 down', async () => ((await state(3))?.state === 'down' ? true : undefined));
  await waitFor('policy 4 up', async () => ((await state(4))?.state === 'up' ? true : undefined));
  assert.ok(good.seen.some((s) => s.path === '/health' && s.servername === 'localhost'), 'the check of policy 4 sent SNI localhost');
  const res = await ask(checked, 2);
  assert.equal(res.status, 503, res.body);
  await waitFor('the health check log line', () => checked.broker.stderr().split('\n').find((line) => line.includes('TLS to HTTP server failed') && line.includes(`127.0.0.1:${untrusted.port}`)));
});

test('a --backend-ca that cannot be read stops the broker at start with one line naming it, exit 2', async () => {
  const out = await run('broker', ['--port', '0', '--http-port', '0', '--backend-ca', path.join(dir.dir, 'missing.pem')], { timeoutMs: 20_000 });
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /policy-broker: error: option backendCa: cannot read .*missing\.pem/);
});
