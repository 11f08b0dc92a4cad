/**
 * The HTTP front end under faults: servers killed one after another under GET load cost no
 * failed request while one server of the policy lives; 5,000 idle or slow HTTP connections do
 * not stop normal requests, are closed by the timeouts, and the broker's memory stays bounded.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Pool } from 'undici';
import { figures, openFds, procStatusKb, teardown, timeUntil } from '../helpers/fault.js';
import { startHttpBroker, startHttpPool, waitForLiveHttpServers } from '../helpers/http.js';

const { programs, sockets, cleanups } = teardown();

test('HTTP: three of four server processes SIGKILLed one after another under GET load: no failed request', async () => {
  const { broker, port, httpPort, origin } = await startHttpBroker();
  programs.push(broker);
  const pools = await Promise.all([100, 101, 102, 103].map((id) => startHttpPool(port, ['--id', String(id)])));
  programs.push(...pools.map((p) => p.pool));
  await waitForLiveHttpServers(httpPort, 111, 4);
  const client = new Pool(origin, { connections: 16 });
  cleanups.push(() => client.close());
  const total = 4000;
  const killAt = [total / 5, (2 * total) / 5, (3 * total) / 5];
  const statuses: Record<number, number> = {};
  const byServer: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  let answered = 0;
  let kills = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      try {
        const res = await client.request({ path: `/api/${next}`, method: 'GET' });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        const id = String(res.headers['x-server-id']);
        byServer[id] = (byServer[id] ?? 0) + 1;
      } catch {
        failed++;
      }
      answered++;
      if (kills < killAt.length && answered >= killAt[kills]!) pools[kills++]!.pool.child.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  figures('http-kill-3-of-4', { sent: total, statuses, failed, byServer });
  assert.equal(kills, 3);
  assert.equal(failed, 0, 'no request failed at the client');
  assert.deepEqual(statuses, { 200: total }, 'every GET answered 200 while a server lived');
  assert.ok(byServer['103']! > total / 3, 'the survivor took over');
});

test('HTTP: 5,000 idle or byte-a-second connections: normal requests served, all closed by the timeouts, memory bounded', async () => {
  const HEADERS_TIMEOUT_MS = 2000;
  const { broker, port, httpPort, origin } = await startHttpBroker(['--http-headers-timeout', String(HEADERS_TIMEOUT_MS), '--http-keep-alive-timeout', '1000']);
  programs.push(broker);
  const { pool } = await startHttpPool(port, ['--ids', '100,101']);
  programs.push(pool);
  await waitForLiveHttpServers(httpPort, 111, 2);
  const pid = broker.child.pid!;
  const rssBeforeMb = procStatusKb(pid, 'VmRSS') / 1024;

  const client = new Pool(origin, { connections: 4 });
  cleanups.push(() => client.close());
  let abusing = true;
  const normal = { sent: 0, ok: 0, other: 0, failed: 0, maxMs: 0 };
  const normalWorker = async (): Promise<void> => {
    while (abusing) {
      normal.sent++;
      const started = Date.now();
      try {
        const res = await client.request({ path: '/api', method: 'GET' });
        await res.body.dump();
        if (res.statusCode === 200) normal.ok++;
        else normal.other++;
      } catch {
        normal.failed++;
      }
      normal.maxMs = Math.max(normal.maxMs, Date.now() - started);
    }
  };
  const workers = [normalWorker(), normalWorker()];

  const closed: number[] = [];
  const open = async (n: number, slow: boolean): Promise<Socket[]> => {
    const opened: Socket[] = [];
    for (let i = 0; i < n; i += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, n - i) }, () => {
          const socket = connect({ port: httpPort, host: '127.0.0.1' });
          sockets.push(socket);
          opened.push(socket);
          socket.on('error', () => undefined);
          socket.on('data', () => undefined);
          socket.on('close', () => closed.push(Date.now()));
          return once(socket, 'connect').then(() => {
            if (slow) socket.write('GET /api HTTP/1.1\r\nHost: x\r\n');
          });
        }),
      );
    }
    return opened;
  };
  const idle = await open(2500, false);
  const slow = await open(2500, true);
  const fdsWithAbusers = openFds(pid);
  const drip = setInterval(() => {
    for (const socket of slow) if (!socket.destroyed) socket.write('X');
  }, 1000);
  cleanups.push(() => clearInterval(drip));
  const allClosedMs = await timeUntil('every abusive HTTP connection closed', () => [...idle, ...slow].every((s) => s.destroyed || s.readableEnded), HEADERS_TIMEOUT_MS + 20_000, 50);
  clearInterval(drip);
  abusing = false;
  await Promise.all(workers);
  const peakRssMb = procStatusKb(pid, 'VmHWM') / 1024;
  figures('http-slow-clients', {
    idle: idle.length,
    slow: slow.length,
    brokerFdsWithAbusers: fdsWithAbusers,
    allClosedAfterMs: allClosedMs,
    normal,
    brokerRssBeforeMb: Math.round(rssBeforeMb),
    brokerPeakRssMb: Math.round(peakRssMb),
  });
  // How many were open at once depends on how fast they could be opened (the timeouts run meanwhile).
  assert.ok(fdsWithAbusers >= 1000, `the broker held many at once (${fdsWithAbusers})`);
  assert.equal(normal.failed + normal.other, 0, JSON.stringify(normal));
  assert.ok(normal.ok > 50, 'normal requests were served throughout');
  assert.ok(peakRssMb - rssBeforeMb < 250, `memory bounded: +${Math.round(peakRssMb - rssBeforeMb)} MB`);
});
