/**
 * A backend that dies while the broker drains on SIGTERM: the HTTP front end (in the broker, or
 * in each --workers process) keeps its backends until its requests in flight are done, so the
 * one on the dead backend goes to another (a GET, nothing answered yet) instead of failing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { teardown } from '../helpers/fault.js';
import { brokerStatus, get, startHttpBroker, startHttpPool, waitFor } from '../helpers/http.js';
import type { Program } from '../helpers/programs.js';

const { programs } = teardown();

async function backendDiesDuringDrain(workers: number): Promise<void> {
  // Info: the broker's "stopping" line says that it has begun to stop.
  const { broker, port, httpPort, origin } = await startHttpBroker([], { env: { POLICY_BROKER_WORKERS: String(workers) }, logLevel: 'info' });
  programs.push(broker);
  const pools = new Map<number, Program>();
  for (const id of [100, 101]) {
    const { pool } = await startHttpPool(port, ['--policy', '111', '--id', String(id)]);
    programs.push(pool);
    pools.set(id, pool);
  }
  await waitFor('every front end to have the two backends', async () => {
    const s = await brokerStatus(httpPort);
    const tables = workers === 0 ? [s.policies.find((p: any) => p.policy === 111)?.httpServers.length] : s.workers.map((w: any) => w.backends);
    return tables.length === Math.max(workers, 1) && tables.every((n: number) => n === 2);
  });
  // Long enough for the steps below (the merged status lags up to 500 ms with --workers) to
  // happen while the backend still holds it.
  const slow = get(`${origin}/bench?wait=3000`);
  const busy = await waitFor('the request in flight on one backend', async () => {
    const s = await brokerStatus(httpPort);
    return s.policies.find((p: any) => p.policy === 111)?.httpServers.find((b: any) => b.inflight === 1);
  });
  const exited = broker.stop('SIGTERM');
  await waitFor('the broker to begin its stop', () => broker.stderr().includes('"message":"stopping"'));
  await pools.get(busy.id)!.stop('SIGKILL');
  const res = await slow;
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['x-server-id'], String(busy.id === 100 ? 101 : 100));
  assert.equal(await exited, 0);
}

test('draining one process: the request in flight on a backend that dies goes to another', () => backendDiesDuringDrain(0));

test('draining --workers 2: the request in flight on a backend that dies goes to another', () => backendDiesDuringDrain(2));
