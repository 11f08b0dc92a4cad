/**
 * WebSockets to policy-server-pool --http servers, real processes: the hello names a server of
 * the asked policy; a pool killed with SIGKILL ends its WebSockets and the next ones go to the
 * other pool; with --workers the status and metrics add up the workers' WebSockets.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import type { Program } from '../helpers/programs.js';
import { brokerStatus, get, startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers } from '../helpers/http.js';
import { readFileSync } from 'node:fs';
import { makeTestCa } from '../helpers/certs.js';
import { ask, closed, mustOpen } from '../helpers/ws.js';

const programs: Program[] = [];
after(async () => {
  for (const p of programs.reverse()) await p.stop();
});

/** Opens a WebSocket and reads the server's hello. */
async function hello(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; server: number; policy: number }> {
  const ws = new WebSocket(url, { headers });
  const first = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
  });
  const { server, policy } = JSON.parse(first) as { server: number; policy: number };
  return { ws, server, policy };
}

test('pool servers answer WebSocket by policy; a killed pool\'s WebSockets end and the next go to the other', async () => {
  const broker = await startHttpBroker(['--health-interval', '200', '--health-fall', '1']);
  programs.push(broker.broker);
  const pool = async (args: string[]) => {
    const started = await startHttpPool(broker.port, args);
    programs.push(started.pool);
    return started;
  };
  const first = await pool(['--policy', '111', '--count', '1']);
  const second = await pool(['--policy', '111', '--count', '1', '--id', '2000']);
  const other = await pool(['--policy', '222', '--count', '1', '--id', '3000']);
  await waitForLiveHttpServers(broker.httpPort, 111, 2);
  const origin = `ws://127.0.0.1:${broker.httpPort}`;
  const ids111 = [first.servers[0]!.id, second.servers[0]!.id];

  const a = await hello(origin);
  const b = await hello(origin);
  assert.deepEqual(new Set([a.server, b.server]), new Set(ids111));
  assert.equal(a.policy, 111);
  const c = await hello(origin, { 'x-privacy-policy': '222' });
  assert.deepEqual([c.server, c.policy], [other.servers[0]!.id, 222]);
  assert.equal((await ask(a.ws, 'echo me')).data.toString(), 'echo me');

  // Kill the first pool: its WebSocket ends; the broker takes the next ones to the second.
  const victim = a.server === first.servers[0]!.id ? a : b;
  const survivor = victim === a ? b : a;
  const ended = closed(victim.ws);
  first.pool.child.kill('SIGKILL');
  assert.equal((await ended).code, 1006);
  await waitFor('the killed pool out of the table', async () => (await waitForLiveHttpServers(broker.httpPort, 111, 1)).length === 1);
  for (let i = 0; i < 3; i++) {
    const next = await hello(origin);
    assert.equal(next.server, second.servers[0]!.id);
    next.ws.close();
  }
  assert.equal((await ask(survivor.ws, 'still here')).data.toString(), 'still here');
  for (const ws of [survivor.ws, c.ws]) ws.close();
  assert.equal((await get(`${broker.origin}/`)).status, 200);
});

test('--workers: status and metrics add up the workers\' WebSockets', async () => {
  const broker = await startHttpBroker(['--workers', '2', '--health-interval', '0']);
  programs.push(broker.broker);
  const { pool } = await startHttpPool(broker.port, ['--policy', '111', '--count', '2']);
  programs.push(pool);
  await waitFor('both workers with the 2 servers', async () => {
    const s = await brokerStatus(broker.httpPort);
    return s.workers.length === 2 && s.workers.every((w: any) => w.backends === 2);
  });
  // Fresh connections, spread by the kernel over the two workers.
  const sockets = await Promise.all(Array.from({ length: 20 }, () => mustOpen(`ws://127.0.0.1:${broker.httpPort}/`)));
  const s = await waitFor('the workers to report 20 open WebSockets', async () => {
    const status = await brokerStatus(broker.httpPort);
    return status.http.upgrades.open === 20 ? status : undefined;
  });
  assert.equal(s.http.upgrades.upgraded, 20);
  const metrics = await get(`${broker.origin}/_broker/metrics`);
  const open = [...metrics.body.matchAll(/^policy_broker_http_websockets_open\{policy="111",server="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(open, 20);
  assert.match(metrics.body, /^policy_broker_http_upgrades_total\{outcome="upgraded",code=""\} 20$/m);
  await Promise.all(sockets.map((ws) => (ws.close(), closed(ws))));
  await waitFor('the workers to report them closed', async () => (await brokerStatus(broker.httpPort)).http.upgrades.open === 0);
});

test('--workers drain: a WebSocket runs on through --drain-timeout, then closes; the broker exits 0', async () => {
  const broker = await startHttpBroker(['--workers', '2', '--health-interval', '0', '--drain-timeout', '1500']);
  programs.push(broker.broker);
  const { pool } = await startHttpPool(broker.port, ['--policy', '111', '--count', '1']);
  programs.push(pool);
  await waitFor('both workers with the server', async () => {
    const s = await brokerStatus(broker.httpPort);
    return s.workers.length === 2 && s.workers.every((w: any) => w.backends === 1);
  });
  // hello() listens for the server's first message from the start: waiting for it only once
  // the handshake's promise has resolved could miss a hello that came in the same read.
  const { ws } = await hello(`ws://127.0.0.1:${broker.httpPort}/`);
  const end = closed(ws);
  broker.broker.child.kill('SIGTERM');
  // New connections are refused (or find nobody listening) while the open one still echoes.
  await waitFor('the drain to have begun', async () => {
    try {
      return (await get(`${broker.origin}/`)).status === 503;
    } catch {
      return true;
    }
  });
  assert.equal((await ask(ws, 'draining')).data.toString(), 'draining');
  assert.equal((await end).code, 1006);
  assert.equal(await broker.broker.exited, 0);
});

test('wss:// through an HTTPS broker (--tls-cert): the same tunnel inside TLS', async () => {
  const ca = await makeTestCa();
  try {
    const broker = await startHttpBroker(['--tls-cert', ca.cert, '--tls-key', ca.key, '--health-interval', '0']);
    programs.push(broker.broker);
    const { pool, servers } = await startHttpPool(broker.port, ['--tls', '--ca', ca.ca, '--policy', '111', '--count', '1']);
    programs.push(pool);
    const ws = new WebSocket(`wss://127.0.0.1:${broker.httpPort}/secure`, { ca: readFileSync(ca.ca) });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(data.toString()));
      ws.once('error', reject);
    });
    assert.equal(JSON.parse(first).server, servers[0]!.id);
    const big = Buffer.alloc(256 * 1024, 3);
    assert.deepEqual((await ask(ws, big)).data, big);
    ws.close(1000, 'done');
    assert.deepEqual(await closed(ws), { code: 1000, reason: 'done' });
  } finally {
    await ca.remove();
  }
});
