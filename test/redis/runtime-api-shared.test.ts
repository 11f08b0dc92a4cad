/**
 * The runtime API with a shared registry (issue 25): an operator's drain, weight or disable of a
 * registered server on one broker goes through Redis, so the other broker sharing it shows and
 * routes by the same change, within a bounded wait (its hint, or its next resync at the latest).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startBroker } from '../helpers/programs.js';
import { teardown, waitFor } from '../helpers/fault.js';
import { FakeServer } from '../helpers/wire.js';
import { startRedis } from '../helpers/redis-server.js';

const { programs, cleanups } = teardown();

async function api(httpPort: number, method: string, apiPath: string, body?: unknown): Promise<{ status: number; json: any }> {
  const pool = new Pool(`http://127.0.0.1:${httpPort}`, { connections: 1 });
  try {
    const res = await pool.request({ path: `/_broker/api/${apiPath}`, method: method as 'GET', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, json: await res.body.json() };
  } finally {
    await pool.close();
  }
}

async function row(httpPort: number, key: string): Promise<any> {
  const { json } = await api(httpPort, 'GET', 'servers');
  return json.servers.find((s: any) => s.key === key);
}

describe('runtime API changes through a shared registry', async () => {
  const redis = await startRedis();

  it('drain, weight and disable on broker A are seen on broker B; up brings the server back on both', async () => {
    const [a, b] = await Promise.all(
      [0, 1].map(async () => {
        const { broker, port } = await startBroker(['--registry', redis.url, '--registry-prefix', 'rapi1:', '--registry-resync', '200', '--http-port', '0']);
        programs.push(broker);
        const ready = await broker.ready;
        return { port, httpPort: ready.http.port as number };
      }),
    );
    const server = await FakeServer.start({ id: 300, policy: 111, brokerPort: a!.port, heartbeatMs: 100 });
    cleanups.push(() => server.kill());
    await waitFor('B sees server 300', async () => (await row(b!.httpPort, '300')) !== undefined, 5000, 20);

    const drained = await api(a!.httpPort, 'PATCH', 'servers/300', { state: 'drain', weight: 7 });
    assert.equal(drained.status, 200, JSON.stringify(drained.json));
    assert.equal(drained.json.changed[0].admin, 'drain');
    await waitFor('B sees it drained, weight 7', async () => {
      const r = await row(b!.httpPort, '300');
      return r?.admin === 'drain' && r.weight === 7;
    }, 5000, 20);

    assert.equal((await api(a!.httpPort, 'PATCH', 'servers/300', { state: 'disabled' })).status, 200);
    await waitFor('B sees it disabled, its weight kept', async () => {
      const r = await row(b!.httpPort, '300');
      return r?.admin === 'disabled' && r.weight === 7;
    }, 5000, 20);

    // Changed on B this time: A follows as well.
    assert.equal((await api(b!.httpPort, 'PATCH', 'servers/300', { state: 'up', weight: 2 })).status, 200);
    for (const broker of [a!, b!]) {
      await waitFor('both see it enabled, weight 2', async () => {
        const r = await row(broker.httpPort, '300');
        return r?.admin === 'enabled' && r.weight === 2;
      }, 5000, 20);
    }
  });
});
