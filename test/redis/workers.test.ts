/**
 * --workers with --registry (docs/scale-out.md): the primary process holds the shared registry
 * (its table follows Redis) and its HTTP workers follow its store's events, so servers registered
 * with another broker are reached through the workers, a server registering again through another
 * broker keeps its place in the workers' tables, a drain through the runtime API reaches every
 * worker, and one that leaves is gone from them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start, run, type Program } from '../helpers/programs.js';
import { teardown, waitFor } from '../helpers/fault.js';
import { brokerStatus, get, startHttpBroker, type HttpBroker } from '../helpers/http.js';
import { startRedis } from '../helpers/redis-server.js';

const { programs } = teardown();

async function broker(url: string, workers: number): Promise<HttpBroker> {
  const args = ['--registry', url, '--registry-prefix', 'workers:', '--registry-resync', '200', '--heartbeat', '200', '--heartbeat-misses', '3'];
  const b = await startHttpBroker(args, workers > 0 ? { env: { POLICY_BROKER_WORKERS: String(workers) } } : {});
  programs.push(b.broker);
  return b;
}

async function pool(brokers: HttpBroker[], args: string[]): Promise<Program> {
  const p = start('pool', ['--broker', brokers.map((b) => `127.0.0.1:${b.port}`).join(','), '--http', ...args]);
  programs.push(p);
  await p.ready;
  return p;
}

/** Both workers of `b` hold `count` HTTP backends. */
function workersHold(b: HttpBroker, count: number): Promise<unknown> {
  return waitFor(
    `both workers holding ${count} backends`,
    async () => {
      const s = await brokerStatus(b.httpPort);
      return s.workers.length === 2 && s.workers.every((w: any) => w.backends === count);
    },
    10_000,
    50,
  );
}

/** Which servers answer `count` GETs (fresh connections, so both workers take some) through `b`. */
async function serversBehind(b: HttpBroker, count: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const res = await get(`${b.origin}/`, { 'x-privacy-policy': '111' });
    assert.equal(res.status, 200, res.body);
    const id = String(res.headers['x-server-id']);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

describe('--workers with --registry', async () => {
  const redis = await startRedis();

  it('the workers reach servers registered with another broker, follow them moving and leaving', async () => {
    const withWorkers = await broker(redis.url, 2);
    const other = await broker(redis.url, 0);
    await pool([withWorkers], ['--policy', '111', '--ids', '100']);
    // Registered with the other broker; they move to the one with workers when it goes.
    const moving = await pool([other, withWorkers], ['--policy', '111', '--ids', '200,201']);
    await workersHold(withWorkers, 3);
    const before = await serversBehind(withWorkers, 30);
    assert.deepEqual([...before.keys()].sort(), ['100', '200', '201']);
    // The workers serve HTTP (each reports what it proxied every 500 ms); which one takes a
    // connection is the kernel's choice, and both hold every server (workersHold).
    await waitFor('the workers reporting the 30 requests', async () => {
      const s = await brokerStatus(withWorkers.httpPort);
      return s.workers.reduce((sum: number, w: any) => sum + w.proxied, 0) >= 30;
    }, 5000, 50);
    // Packets too, through the primary.
    const packets = await run('client', ['--broker', `127.0.0.1:${withWorkers.port}`, '--json', '--policy', '111', '--count', '3000', '--concurrency', '16'], { timeoutMs: 60_000 });
    const summary = JSON.parse(packets.stdout.trim().split('\n').pop()!);
    assert.deepEqual(summary.errors, {});
    assert.deepEqual(Object.keys(summary.byServer).sort(), ['100', '200', '201']);

    // The other broker dies: 200 and 201 register with the broker with workers.
    await other.broker.stop('SIGKILL');
    await waitFor(
      'servers 200 and 201 owned by the broker with workers',
      async () => {
        const s = await brokerStatus(withWorkers.httpPort);
        const servers = s.policies.find((p: any) => p.policy === 111)?.servers ?? [];
        return ['200', '201'].every((id) => servers.some((x: any) => String(x.id) === id && x.owner === s.registry.brokerId));
      },
      10_000,
      50,
    );
    await workersHold(withWorkers, 3);
    assert.deepEqual([...(await serversBehind(withWorkers, 30)).keys()].sort(), ['100', '200', '201']);

    // The runtime API drains a registered server in every worker (loopback: no token needed).
    const drained = await get(`${withWorkers.origin}/_broker/api/servers/200`, { 'content-type': 'application/json' }, 'PATCH', JSON.stringify({ state: 'drain' }));
    assert.equal(drained.status, 200, drained.body);
    assert.deepEqual([...(await serversBehind(withWorkers, 20)).keys()].sort(), ['100', '201']);

    // They leave: gone from the workers too.
    await moving.stop('SIGTERM');
    await workersHold(withWorkers, 1);
    assert.deepEqual([...(await serversBehind(withWorkers, 10)).keys()], ['100']);
  });
});
