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
import { refusesConnections } from '../helpers/wait.js';

const { programs } = teardown();

async function backendDiesDuringDrain(workers: number): Promise<void> {
  const { broker, port, httpPort, origin } = await startHttpBroker([], { env: { POLICY_BROKER_WORKERS: String(workers) } });
  programs.push(broker);
  const pools = new Map<number, { pool: Program; httpPort: number }>();
  for (const id of [100, 101]) {
    const { pool, servers } = await startHttpPool(port, ['--policy', '111', '--id', String(id)]);
    programs.push(pool);
    pools.set(id, { pool, httpPort: servers[0]!.httpPort });
  }
  await waitFor('every front end to have the two backends', async () => {
    const s = await brokerStatus(httpPort);
    const tables = workers === 0 ? [s.policies.find((p: any) => p.policy === 111)?.httpServers.length] : s.workers.map((w: any) => w.backends);
    return tables.length === Math.max(workers, 1) && tables.every((n: number) => n === 2);
  });
  // Each backend holds the request until the test releases it: the one that takes it first
  // holds it until it is killed, the other until the retry has reached it.
  const slow = get(`${origin}/bench?hold=drain`);
  const busy = await waitFor('the request in flight on one backend', async () => {
    const s = await brokerStatus(httpPort);
    return s.policies.find((p: any) => p.policy === 111)?.httpServers.find((b: any) => b.inflight === 1);
  });
  const exited = broker.stop('SIGTERM');
  await waitFor('the broker to begin its stop (its packet port closed)', () => refusesConnections(port));
  await pools.get(busy.id)!.pool.stop('SIGKILL');
  const survivor = busy.id === 100 ? 101 : 100;
  await waitFor('the retried request held by the other backend', async () => {
    const released = await get(`http://127.0.0.1:${pools.get(survivor)!.httpPort}/release?hold=drain`);
    return JSON.parse(released.body).released > 0;
  });
  const res = await slow;
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['x-server-id'], String(survivor));
  assert.equal(await exited, 0);
}

test('draining one process: the request in flight on a backend that dies goes to another', () => backendDiesDuringDrain(0));

test('draining --workers 2: the request in flight on a backend that dies goes to another', () => backendDiesDuringDrain(2));
