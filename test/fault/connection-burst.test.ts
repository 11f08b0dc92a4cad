/**
 * Bursts of new connections while the broker is busy (issue: the assignment's wrk -c1000 left
 * half its connections unserved). A busy event loop accepts one connection per listening socket
 * per turn; with --listen-sockets (SO_REUSEPORT) the broker takes a burst at the rate it comes.
 * 1,000 connections opened at once, HTTP and packets, while other clients keep the broker busy:
 * every one answered, and, where the runtime has reusePort, none later than 2 s.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { reusePortSupported } from '../../broker/support/reuse-port.js';
import { connectionBurst, HTTP_BURST } from '../../scripts/lib/connection-burst.js';
import { figures, teardown, waitFor } from '../helpers/fault.js';
import { brokerStatus, startHttpBroker, startHttpPool } from '../helpers/http.js';
import { start } from '../helpers/programs.js';

const { programs, cleanups } = teardown();

const BURST = 1000;
const WITHIN_MS = 2000;
/** Without reusePort the burst is accepted one connection per turn: it still ends, later. */
const BOUND_MS = 60_000;

/** wrk keeping the HTTP front end busy (bounded by -d; stopped once the burst is measured). */
function httpLoad(url: string): { stop(): void } {
  const wrk = spawn('wrk', ['-t2', '-c128', '-d30s', url], { stdio: 'ignore' });
  wrk.on('error', (err) => assert.fail(`wrk is needed for this test (apt-get install wrk): ${err.message}`));
  return { stop: () => wrk.kill('SIGKILL') };
}

test('1,000 HTTP connections opened at once while the front end is busy: every one answered, none after 2 s', async () => {
  const reusePort = await reusePortSupported();
  const http = await startHttpBroker(['--health-interval', '0']);
  programs.push(http.broker);
  const { pool } = await startHttpPool(http.port, ['--policy', '111', '--count', '2']);
  programs.push(pool);
  const load = httpLoad(`${http.origin}/`);
  cleanups.push(() => load.stop());
  // The burst starts once the load is being served.
  await waitFor('the front end busy', async () => (await brokerStatus(http.httpPort)).http.proxied > 2000, 15_000, 50);
  const result = await connectionBurst({ port: http.httpPort, count: BURST, ...HTTP_BURST, withinMs: WITHIN_MS, boundMs: BOUND_MS });
  load.stop();
  figures('http burst', { node: process.version, reusePort, ...result });
  assert.equal(result.failed, 0, 'every connection answered');
  assert.equal(result.answered, BURST);
  if (reusePort) assert.equal(result.over, 0, `none answered later than ${WITHIN_MS} ms (p99 ${result.p99Ms} ms, max ${result.maxMs} ms)`);
});

test('1,000 packet clients connecting at once while the broker is busy: each gets its first answer within 2 s', async () => {
  const reusePort = await reusePortSupported();
  // HTTP on only for the status page, which says when the load is being served.
  const { broker, port, httpPort } = await startHttpBroker();
  programs.push(broker);
  const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--count', '2']);
  programs.push(pool);
  await pool.ready;
  const load = start('client', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--duration', '30', '--concurrency', '256', '--connections', '64']);
  programs.push(load);
  cleanups.push(() => load.stop('SIGKILL'));
  await waitFor('the broker busy', async () => (await brokerStatus(httpPort)).packet.replied > 20_000, 15_000, 50);
  const packet = '{"type":0,"srcid":7,"privPoliId":111,"payload":"burst"}\n';
  const result = await connectionBurst({ port, count: BURST, request: packet, answered: (text) => text.includes('\n') && /"type":2/.test(text), withinMs: WITHIN_MS, boundMs: BOUND_MS });
  await load.stop('SIGKILL');
  figures('packet burst', { node: process.version, reusePort, ...result });
  assert.equal(result.failed, 0, 'every client answered');
  assert.equal(result.answered, BURST);
  if (reusePort) assert.equal(result.over, 0, `none answered later than ${WITHIN_MS} ms (p99 ${result.p99Ms} ms, max ${result.maxMs} ms)`);
});
