/**
 * The routing trace end to end, on the real programs: each packet and HTTP request makes one
 * decision, logged as a line and pushed to /_broker/trace/events; POST /_broker/trace switches
 * it (behind --http-token); with --workers the workers' HTTP decisions reach the primary's trace
 * and a stream opened on a worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { clients } from '../helpers/fault.js';
import { startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers } from '../helpers/http.js';
import type { Program } from '../helpers/programs.js';
import { openSse, type SseStream } from '../helpers/sse.js';

const TOKEN = 'trace-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function post(origin: string, query: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await request(`${origin}/_broker/trace?${query}`, { method: 'POST', headers });
  return { status: res.statusCode, body: await res.body.json() };
}

async function traceState(origin: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await request(`${origin}/_broker/trace`, { headers });
  assert.equal(res.statusCode, 200);
  return res.body.json();
}

function decisions(stream: SseStream, kind: 'packet' | 'http'): any[] {
  return stream.events.filter((e) => e.event === 'decision' && e.data.kind === kind).map((e) => e.data);
}

test('each packet and HTTP request makes one decision, logged and streamed; POST /_broker/trace switches it, behind the token', { timeout: 60_000 }, async () => {
  const programs: Program[] = [];
  let stream: SseStream | undefined;
  let only999: SseStream | undefined;
  try {
    const broker = await startHttpBroker(['--http-token', TOKEN, '--log-format', 'json'], { logLevel: 'info' });
    programs.push(broker.broker);
    const pool = await startHttpPool(broker.port, ['--policy', '111', '--ids', '100,300']);
    programs.push(pool.pool);
    await waitForLiveHttpServers(broker.httpPort, 111, 2, AUTH);

    // Off by default; the token guards both the switch and the stream.
    assert.equal((await traceState(broker.origin, AUTH)).on, false);
    assert.equal((await post(broker.origin, 'on=true')).status, 401);
    assert.equal((await openSse(`${broker.origin}/_broker/trace/events`)).status, 401);
    assert.equal((await traceState(broker.origin, AUTH)).on, false);
    assert.equal((await post(broker.origin, 'on=maybe', AUTH)).status, 400);
    const on = await post(broker.origin, 'on=true', AUTH);
    assert.equal(on.status, 200);
    assert.equal(on.body.on, true);

    stream = await openSse(`${broker.origin}/_broker/trace/events`, AUTH);
    assert.equal(stream.status, 200);
    // A second stream asks for policy 999 only.
    only999 = await openSse(`${broker.origin}/_broker/trace/events?policy=999`, AUTH);
    assert.equal(only999.status, 200);
    const refused = await openSse(`${broker.origin}/_broker/trace/events?policy=x`, AUTH);
    refused.close();
    assert.equal(refused.status, 400);
    await waitFor('the state events', () => [stream!, only999!].every((s) => s.events.some((e) => e.event === 'state' && e.data.on === true)));

    // Four packets, one at a time: round-robin alternates the two servers.
    const [client] = await clients(broker.port, 1);
    const replies: number[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await client!.send({ type: 0, srcid: 7, privPoliId: 111, payload: `p${i}` });
      assert.equal(answer.type, 2);
      replies.push((answer as { srcid: number }).srcid);
    }
    const none = await client!.send({ type: 0, srcid: 7, privPoliId: 999, payload: 'x' });
    assert.equal(none.type, 3);
    const res = await request(`${broker.origin}/api`, { headers: { ...AUTH, 'x-privacy-policy': '111' } });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const requestId = res.headers['x-request-id'];

    const streamed = await waitFor('six decisions on the stream', () => (decisions(stream!, 'packet').length >= 5 && decisions(stream!, 'http').length >= 1 ? stream! : undefined));
    const packets = decisions(streamed, 'packet');
    assert.deepEqual(packets.map((d) => d.server), [...replies, null], 'the trace names the server that answered');
    assert.notEqual(packets[0].server, packets[1].server, 'round-robin');
    for (const [i, d] of packets.slice(0, 4).entries()) {
      assert.equal(d.client, '127.0.0.1');
      assert.equal(d.srcid, 7);
      assert.equal(d.seq, i + 1);
      assert.equal(d.policy, 111);
      assert.equal(d.attempt, 1);
      assert.equal(d.outcome, 'reply');
      assert.match(d.address, /^127\.0\.0\.1:\d+$/);
      assert.ok(d.ms >= 0);
    }
    assert.equal(packets[4].outcome, 'NO_SERVER');
    assert.equal(packets[4].policy, 999);
    assert.deepEqual([...decisions(only999!, 'packet'), ...decisions(only999!, 'http')], [packets[4]]);
    const [http] = decisions(streamed, 'http');
    assert.equal(http.requestId, requestId);
    assert.equal(http.method, 'GET');
    assert.equal(http.path, '/api');
    assert.equal(http.status, 200);
    assert.ok([100, 300].includes(http.server), `backend ${http.server}`);

    // The same decisions as log lines (JSON here: one object each, with its human message).
    const logged = await waitFor('the log lines', () => {
      const lines = broker.broker.stderr().split('\n').filter((l) => l.includes('"decision"')).map((l) => JSON.parse(l));
      return lines.length >= 6 ? lines : undefined;
    });
    assert.equal(logged.length, 6);
    assert.match(logged[0].message, /^packet 127\.0\.0\.1 srcid 7 seq 1 → policy 111 → server \d+ \(127\.0\.0\.1:\d+\) attempt 1 → reply [\d.]+ ms$/);
    assert.equal(logged[5].decision.requestId, requestId);

    // Off again: nothing more is recorded.
    const before = (await traceState(broker.origin, AUTH)).recorded;
    assert.equal(before, 6);
    assert.equal((await post(broker.origin, 'on=false', AUTH)).body.on, false);
    for (let i = 0; i < 3; i++) assert.equal((await client!.send({ type: 0, srcid: 7, privPoliId: 111, payload: 'off' })).type, 2);
    const after = await traceState(broker.origin, AUTH);
    assert.equal(after.recorded, before);
    assert.equal(after.streams, 2);
    assert.equal(after.recent.length, 6);
    await client!.close();
  } finally {
    stream?.close();
    only999?.close();
    for (const program of programs.reverse()) await program.stop();
  }
});

test('with --workers the HTTP decisions made in the workers reach the trace, its stream and its switch', { timeout: 60_000 }, async () => {
  const programs: Program[] = [];
  let stream: SseStream | undefined;
  try {
    const broker = await startHttpBroker(['--workers', '2', '--trace']);
    programs.push(broker.broker);
    const pool = await startHttpPool(broker.port, ['--policy', '111', '--ids', '100,300']);
    programs.push(pool.pool);
    await waitForLiveHttpServers(broker.httpPort, 111, 2);
    // The stream is served by whichever worker accepted it; the decisions come from both.
    stream = await openSse(`${broker.origin}/_broker/trace/events`);
    assert.equal(stream.status, 200);
    await waitFor('the state event', () => stream!.events.some((e) => e.event === 'state' && e.data.on === true));
    const ids = new Set<string>();
    for (let i = 0; i < 8; i++) {
      // A new connection each: the kernel spreads them over the workers.
      const res = await request(`${broker.origin}/w${i}`, { headers: { connection: 'close' } });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      ids.add(String(res.headers['x-request-id']));
    }
    const streamed = await waitFor('the eight decisions on the stream', () => {
      const seen = decisions(stream!, 'http').filter((d) => ids.has(d.requestId));
      return seen.length === 8 ? seen : undefined;
    });
    // In batches from two processes: each worker's in order, the two interleaved.
    assert.deepEqual(streamed.map((d) => d.path).sort(), Array.from({ length: 8 }, (_, i) => `/w${i}`));
    assert.ok(streamed.every((d) => d.status === 200 && [100, 300].includes(d.server)));
    const state = await traceState(broker.origin);
    assert.ok(state.recorded >= 8, `recorded ${state.recorded}`);
    assert.ok([...ids].every((id) => state.recent.some((d: any) => d.requestId === id)), 'the primary has every decision');
    // The switch reaches the workers.
    assert.equal((await post(broker.origin, 'on=false&sample=0.5')).body.on, false);
    await waitFor('the stream to say it is off', () => stream!.events.some((e) => e.event === 'state' && e.data.on === false && e.data.sample === 0.5));
  } finally {
    stream?.close();
    for (const program of programs.reverse()) await program.stop();
  }
});

test('eight trace streams opened from one address and never read do not lock the operator out', { timeout: 30_000 }, async () => {
  const { createBroker } = await import('../../broker/broker.js');
  const { connect } = await import('node:net');
  const broker = createBroker({ port: 0, httpPort: 0, healthIntervalMs: 0 });
  await broker.listen();
  const port = broker.httpAddress()!.port;
  const sockets: Array<import('node:net').Socket> = [];
  /** Opens a stream from `localAddress`; resolves with its status line. Never reads past it. */
  const open = (localAddress: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress });
      sockets.push(socket);
      let text = '';
      socket.on('error', reject);
      socket.on('data', (data: Buffer) => {
        text += data.toString('latin1');
        const eol = text.indexOf('\r\n');
        if (eol !== -1) {
          socket.pause();
          resolve(text.slice(0, eol));
        }
      });
      socket.write('GET /_broker/trace/events HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  try {
    const fromOne: string[] = [];
    for (let i = 0; i < 8; i++) fromOne.push(await open('127.0.0.1'));
    assert.deepEqual(fromOne.map((line) => line.split(' ')[1]), ['200', '200', '503', '503', '503', '503', '503', '503']);
    assert.equal((await open('127.0.0.2')).split(' ')[1], '200', 'the operator, from another address');
  } finally {
    for (const socket of sockets) socket.destroy();
    await broker.close();
  }
});
