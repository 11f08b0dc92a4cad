/**
 * --workers under a fault: one HTTP worker SIGKILLed under load. What is promised, and checked:
 * the other worker keeps answering throughout; the primary forks a replacement; once the
 * replacement listens, every request on a new connection succeeds; the broker's totals do not
 * go back. What is not promised: the requests in flight on the killed worker, and connections
 * it had accepted (or was being handed) when it died, fail; their number is bounded by the
 * load's concurrency and printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pool } from 'undici';
import { figures, teardown } from '../helpers/fault.js';
import { brokerStatus, get, startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers } from '../helpers/http.js';

const { programs, cleanups } = teardown();

type Phase = 'before' | 'gap' | 'after';

test('HTTP workers: one SIGKILLed under load; the other serves on, a new one is forked, new connections then all succeed', async () => {
  const { broker, port, httpPort, origin } = await startHttpBroker(['--workers', '2']);
  programs.push(broker);
  const { pool } = await startHttpPool(port, ['--count', '3', '--id', '100']);
  programs.push(pool);
  await waitForLiveHttpServers(httpPort, 111, 3);
  const everyWorkerReady = async (exclude?: number) => {
    const s = await brokerStatus(httpPort);
    const ok = s.workers.length === 2 && s.workers.every((w: any) => w.listening && w.backends === 3 && w.pid !== exclude);
    return ok ? s : undefined;
  };
  const initial = await waitFor('both workers to have the backends', () => everyWorkerReady());
  const victim: number = initial.workers[0].pid;

  // Fresh connections (6 loops) and keep-alive ones (a pool of 4), all GETs, until told to stop.
  const FRESH = 6;
  const KEEP_ALIVE = 4;
  const keepAlive = new Pool(origin, { connections: KEEP_ALIVE });
  cleanups.push(() => keepAlive.close());
  let phase: Phase = 'before';
  let running = true;
  /** Answers by the phase the request started in; failures also by whether they came before the kill. */
  const count = { before: { ok: 0, failed: 0 }, gap: { ok: 0, failed: 0 }, after: { ok: 0, failed: 0 }, failedBeforeKill: 0 };
  const keepAliveCount = { ok: 0, failed: 0, failedBeforeKill: 0 };
  const failures: string[] = [];
  const freshLoop = async (): Promise<void> => {
    while (running) {
      const started: Phase = phase;
      try {
        const res = await get(`${origin}/api`);
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        count[started].ok++;
      } catch (err) {
        count[started].failed++;
        if (phase === 'before') count.failedBeforeKill++;
        failures.push(`${started}: ${(err as Error).message}`);
      }
    }
  };
  const keepAliveLoop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await keepAlive.request({ path: '/api', method: 'GET' });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        keepAliveCount.ok++;
      } catch {
        keepAliveCount.failed++;
        if (phase === 'before') keepAliveCount.failedBeforeKill++;
      }
    }
  };
  const loops = [...Array.from({ length: FRESH }, freshLoop), ...Array.from({ length: KEEP_ALIVE }, keepAliveLoop)];

  await waitFor('some load before the kill', () => count.before.ok >= 100, 20_000);
  const before = await brokerStatus(httpPort);
  phase = 'gap';
  process.kill(victim, 'SIGKILL');
  // The replacement: a new pid, listening, with the backends.
  const killedAt = Date.now();
  const afterStart = await waitFor('the replacement worker', () => everyWorkerReady(victim), 20_000);
  const replacedInMs = Date.now() - killedAt;
  const gapOk = count.gap.ok;
  phase = 'after';
  await waitFor('load after the replacement', () => count.after.ok >= 200, 20_000);
  running = false;
  await Promise.all(loops);
  const final = await waitFor('the final reports', async () => {
    const s = await brokerStatus(httpPort);
    return s.workers.every((w: any) => w.proxied > 0) ? s : undefined;
  });
  figures('http-workers-kill', { ...count, keepAlive: keepAliveCount, replacedInMs, failures: failures.slice(0, 10), workers: final.workers });

  assert.ok(gapOk > 0, 'the other worker answered while the killed one was being replaced');
  assert.equal(count.failedBeforeKill + keepAliveCount.failedBeforeKill, 0, 'nothing failed before the kill');
  assert.equal(count.after.failed, 0, 'every request on a new connection after the replacement listened succeeded');
  // Only requests in flight on the killed worker, or on connections it had accepted, may fail:
  // at most one per loop (each has one request at a time), and once more if its next connection
  // was accepted by the worker in its last moment.
  assert.ok(count.before.failed + count.gap.failed <= 2 * FRESH, `${count.before.failed + count.gap.failed} fresh-connection requests failed`);
  assert.ok(keepAliveCount.failed <= 2 * KEEP_ALIVE, `${keepAliveCount.failed} keep-alive requests failed`);
  const newcomer = afterStart.workers.find((w: any) => !initial.workers.some((i: any) => i.pid === w.pid));
  assert.ok(newcomer !== undefined);
  assert.ok(final.workers.find((w: any) => w.pid === newcomer.pid).proxied > 0, 'the new worker takes requests');
  // The killed worker's last report is kept: the totals did not go back.
  assert.ok(final.http.requests >= before.http.requests, `${before.http.requests} -> ${final.http.requests}`);
  assert.ok(final.http.proxied >= count.before.ok, `proxied ${final.http.proxied}, answered before the kill ${count.before.ok}`);
});
