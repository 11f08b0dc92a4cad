/**
 * Slow clients: 5,000 connections that sit idle or send a byte a second. Normal clients are
 * served throughout, the idle and header timeouts close every one of them, and the broker's
 * memory stays bounded.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { sha1 } from '../helpers/classic.js';
import { clients, figures, openFds, procStatusKb, startBrokerAndPool, sum, tally, teardown, timeUntil, trackedLoad } from '../helpers/fault.js';

const { programs, sockets, cleanups } = teardown();

const IDLE = 2500;
const SLOW = 2500;
const IDLE_TIMEOUT_MS = 3000;
const HEADER_TIMEOUT_MS = 2000;

interface Abuser {
  socket: Socket;
  openedAt: number;
  closedAt: number;
  received: string;
}

/** Opens n connections, 250 at a time; each writes `first` as soon as it is connected. */
async function open(port: number, n: number, first = '', batch = 250): Promise<Abuser[]> {
  const abusers: Abuser[] = [];
  for (let i = 0; i < n; i += batch) {
    const opened = Array.from({ length: Math.min(batch, n - i) }, () => {
      const socket = connect({ port, host: '127.0.0.1' });
      sockets.push(socket);
      const abuser: Abuser = { socket, openedAt: 0, closedAt: 0, received: '' };
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => (abuser.received += text));
      socket.on('error', () => undefined);
      socket.on('close', () => (abuser.closedAt = Date.now()));
      abusers.push(abuser);
      return once(socket, 'connect').then(() => {
        abuser.openedAt = Date.now();
        if (first !== '') socket.write(first);
      });
    });
    await Promise.all(opened);
  }
  return abusers;
}

test('5,000 idle and byte-a-second connections: normal clients served, all closed by the timeouts, memory bounded', async () => {
  const { broker, port } = await startBrokerAndPool(['--idle-timeout', String(IDLE_TIMEOUT_MS), '--header-timeout', String(HEADER_TIMEOUT_MS)], programs);
  const pid = broker.child.pid!;
  const rssBeforeMb = procStatusKb(pid, 'VmRSS') / 1024;

  const peers = await clients(port, 2);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  let abusing = true;
  let maxLatencyMs = 0;
  let last = Date.now();
  const normal = trackedLoad({
    clients: peers,
    policy: 111,
    count: 1_000_000,
    concurrency: 4,
    expected: (payload) => sha1(payload),
    stop: () => !abusing,
    onAnswer: () => {
      const now = Date.now();
      maxLatencyMs = Math.max(maxLatencyMs, now - last);
      last = now;
    },
  });

  const openedAt = Date.now();
  const idle = await open(port, IDLE);
  // A packet that never ends, then a byte a second.
  const slow = await open(port, SLOW, '{"type":0,"srcid":1,"privPoliId":111,"payload":"');
  const openMs = Date.now() - openedAt;
  const fdsWithAbusers = openFds(pid);
  const drip = setInterval(() => {
    for (const abuser of slow) if (abuser.closedAt === 0) abuser.socket.write('a');
  }, 1000);
  cleanups.push(() => clearInterval(drip));

  const slowClosedMs = await timeUntil('every slow connection closed', () => slow.every((a) => a.closedAt > 0), HEADER_TIMEOUT_MS + 15_000, 50);
  const idleClosedMs = await timeUntil('every idle connection closed', () => idle.every((a) => a.closedAt > 0), IDLE_TIMEOUT_MS + 15_000, 50);
  abusing = false;
  const count = await normal;
  clearInterval(drip);

  const toldSlow = slow.filter((a) => a.received.includes('"incomplete packet')).length;
  const shortestIdleLife = Math.min(...idle.map((a) => a.closedAt - a.openedAt));
  const peakRssMb = procStatusKb(pid, 'VmHWM') / 1024;
  figures('slow-clients', {
    idle: IDLE,
    slow: SLOW,
    openMs,
    brokerFdsWithAbusers: fdsWithAbusers,
    shortestIdleLifeMs: shortestIdleLife,
    slowClosedAfterMs: slowClosedMs,
    idleClosedAfterMs: idleClosedMs,
    slowToldWhy: toldSlow,
    normal: { ...tally(count), maxGapMs: maxLatencyMs },
    brokerRssBeforeMb: Math.round(rssBeforeMb),
    brokerPeakRssMb: Math.round(peakRssMb),
    brokerFdsAfter: openFds(pid),
  });
  // How many were open at once depends on how fast they could be opened (the timeouts run meanwhile).
  assert.ok(fdsWithAbusers >= 2500, `the broker held thousands at once (${fdsWithAbusers})`);
  assert.equal(toldSlow, SLOW, 'each slow connection was told why it was closed');
  assert.ok(shortestIdleLife >= IDLE_TIMEOUT_MS - 300, `no idle connection was closed early (${shortestIdleLife} ms)`);
  assert.equal(sum(count.failed), 0);
  assert.equal(sum(count.errors), 0, JSON.stringify(count.errors));
  assert.equal(count.replies, count.sent);
  assert.equal(count.misdelivered, 0);
  assert.ok(count.sent > 100, 'normal clients were served throughout');
  assert.ok(peakRssMb - rssBeforeMb < 200, `memory bounded: ${Math.round(peakRssMb - rssBeforeMb)} MB for ${IDLE + SLOW} connections`);
  assert.ok(openFds(pid) < 100, 'the broker let go of every abusive connection');
});
