/**
 * The HTTP details of issue 12: a request proxied back to the broker (508 at once), HTTP/1.2
 * (505, as docs/http.md says), the policy header listed in Connection (kept: it is end-to-end),
 * and the client's Forwarded and X-Real-IP (removed unless --trust-forwarded).
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { figures } from '../helpers/fault.js';
import { brokerStatus, httpBackend, rawRequest, startHttpBroker, tempDir, writeServersConf } from '../helpers/http.js';
import type { Program } from '../helpers/programs.js';

const programs: Program[] = [];
const closers: Array<() => unknown> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  for (const program of programs) await program.stop('SIGKILL');
});

/** A backend that records the headers of each request it gets. */
async function recordingBackend(): Promise<{ port: number; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const backend = await httpBackend((req, res) => {
    // The brokers' active health checks (GET /) reach it too, at any moment: only proxied requests are kept.
    if (req.url !== '/') seen.push(req.headers);
    res.end('ok');
  });
  closers.push(() => backend.close());
  return { port: backend.port, seen };
}

test('a request proxied back to the broker (its backend forwards to the broker\'s own port) gets 508 at once, once', async () => {
  // A plain TCP relay in front of the broker's HTTP port: no registration check can see through it.
  let target = 0;
  const relay = createServer((socket) => {
    const upstream = connect({ port: target, host: '127.0.0.1' });
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  closers.push(() => relay.close());
  const dir = tempDir('loop');
  closers.push(() => dir.remove());
  const servers = writeServersConf(dir.dir, [{ port: (relay.address() as AddressInfo).port, policy: 111 }]);
  const b = await startHttpBroker(['--servers', servers, '--health-interval', '0']);
  programs.push(b.broker);
  target = b.httpPort;
  const started = performance.now();
  const res = await fetch(`${b.origin}/anything`, { headers: { 'x-privacy-policy': '111' } });
  const body = await res.text();
  const ms = Math.round(performance.now() - started);
  const status = await brokerStatus(b.httpPort);
  figures('http-loop', { status: res.status, ms, requests: status.http.requests, errors: status.http.errors, body });
  assert.equal(res.status, 508);
  assert.match(body, /LOOP_DETECTED/);
  assert.ok(ms < 2000, `${ms} ms`);
  // The client's request, the one that came back, and this status request: three, not hundreds.
  assert.equal(status.http.requests, 3);
  assert.equal(status.http.errors.LOOP_DETECTED, 1);
});

test('HTTP/1.2 gets 505; X-Privacy-Policy listed in Connection still reaches the backend; Forwarded and X-Real-IP are removed unless --trust-forwarded', async () => {
  const backend = await recordingBackend();
  const dir = tempDir('sec');
  closers.push(() => dir.remove());
  const servers = writeServersConf(dir.dir, [{ port: backend.port, policy: 111 }]);
  const plain = await startHttpBroker(['--servers', servers]);
  const trusting = await startHttpBroker(['--servers', servers, '--trust-forwarded']);
  programs.push(plain.broker, trusting.broker);

  const v12 = await rawRequest(plain.httpPort, 'GET / HTTP/1.2\r\nHost: h\r\n\r\n');
  const statusLine = v12.text.split('\r\n')[0];

  const request = 'GET /x HTTP/1.1\r\nHost: h\r\nX-Privacy-Policy: 111\r\nConnection: keep-alive, X-Privacy-Policy\r\nForwarded: for=203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\n\r\n';
  const untrusted = await rawRequest(plain.httpPort, request, { until: (t) => t.endsWith('ok') });
  const toUntrusted = backend.seen.at(-1)!;
  const trusted = await rawRequest(trusting.httpPort, request, { until: (t) => t.endsWith('ok') });
  const toTrusted = backend.seen.at(-1)!;
  const pick = (h: IncomingHttpHeaders) => ({ policy: h['x-privacy-policy'], forwarded: h.forwarded, realIp: h['x-real-ip'], via: h.via });
  figures('http-details', { 'HTTP/1.2': statusLine, untrusted: pick(toUntrusted), trusted: pick(toTrusted) });
  assert.equal(statusLine, 'HTTP/1.1 505 HTTP Version Not Supported');
  assert.match(untrusted.text, /^HTTP\/1\.1 200/);
  assert.match(trusted.text, /^HTTP\/1\.1 200/);
  assert.equal(toUntrusted['x-privacy-policy'], '111');
  assert.equal(toUntrusted.forwarded, undefined);
  assert.equal(toUntrusted['x-real-ip'], undefined);
  assert.match(String(toUntrusted.via), /^1\.1 policy-broker-[0-9a-f]{16}$/);
  assert.equal(toTrusted['x-privacy-policy'], '111');
  assert.equal(toTrusted.forwarded, 'for=203.0.113.9');
  assert.equal(toTrusted['x-real-ip'], '203.0.113.9');
});
