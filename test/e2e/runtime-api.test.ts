/**
 * Operating a running broker: the runtime API (list, drain, disable, weight, enable) and a
 * reload of servers.conf by SIGHUP and by POST /_broker/api/reload, under load: added backends
 * used, removed ones drained, unchanged ones kept (their counters), a bad file changing nothing
 * with one clear error; writes refused without the admin token.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Pool } from 'undici';
import { teardown, waitFor } from '../helpers/fault.js';
import { brokerStatus, get, httpBackend, startHttpBroker, tempDir } from '../helpers/http.js';
import { start } from '../helpers/programs.js';

const { programs, cleanups } = teardown();

async function api(origin: string, method: string, apiPath: string, body?: unknown, token?: string): Promise<{ status: number; json: any }> {
  const pool = new Pool(origin, { connections: 1 });
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) };
    const res = await pool.request({ path: `/_broker/api/${apiPath}`, method: method as 'GET', headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, json: await res.body.json() };
  } finally {
    await pool.close();
  }
}

test('the runtime API lists servers, drains, disables, re-weights and enables them; changes need the admin token', async () => {
  const http = await startHttpBroker(['--admin-token', 's3cret']);
  programs.push(http.broker);
  const pool = start('pool', ['--broker', `127.0.0.1:${http.port}`, '--policy', '111', '--ids', '100,101']);
  programs.push(pool);
  await pool.ready;
  const list = await api(http.origin, 'GET', 'servers');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.servers.map((s: any) => [s.key, s.policy, s.admin, s.weight]).sort(), [['100', 111, 'enabled', 1], ['101', 111, 'enabled', 1]]);

  assert.equal((await api(http.origin, 'PATCH', 'servers/100', { state: 'drain' })).status, 401, 'no token');
  assert.equal((await api(http.origin, 'PATCH', 'servers/100', { state: 'drain' }, 'wrong')).status, 401);
  assert.equal((await api(http.origin, 'PATCH', 'servers/100', { state: 'sleep' }, 's3cret')).status, 400);
  assert.equal((await api(http.origin, 'PATCH', 'servers/100', { weight: 0 }, 's3cret')).status, 400);
  assert.equal((await api(http.origin, 'PATCH', 'servers/999', { state: 'drain' }, 's3cret')).status, 404);
  assert.equal((await api(http.origin, 'GET', 'reload')).status, 405);

  const drained = await api(http.origin, 'PATCH', 'servers/100', { state: 'drain' }, 's3cret');
  assert.equal(drained.status, 200);
  assert.equal(drained.json.changed[0].admin, 'drain');
  const load = async (n: number): Promise<Record<string, number>> => {
    const { BrokerClient } = await import('../../client/index.js');
    const client = await BrokerClient.connect({ host: '127.0.0.1', port: http.port });
    try {
      const by: Record<string, number> = {};
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => client.send({ type: 0, srcid: 1, privPoliId: 111, payload: `p${i}` })));
      for (const a of answers) by[String((a as any).srcid)] = (by[String((a as any).srcid)] ?? 0) + 1;
      return by;
    } finally {
      await client.close();
    }
  };
  assert.deepEqual(await load(20), { 101: 20 }, 'a drained server gets no new packets');
  await api(http.origin, 'PATCH', 'servers/100', { state: 'up', weight: 3 }, 's3cret');
  const by = await load(400);
  assert.ok(Math.abs(by['100']! / 400 - 0.75) <= 0.02, `weight 3 then: ${JSON.stringify(by)}`);
  await api(http.origin, 'PATCH', 'servers/101', { state: 'disabled' }, 's3cret');
  assert.deepEqual(await load(20), { 100: 20 }, 'a disabled server is out at once');
  const status = await brokerStatus(http.httpPort);
  assert.deepEqual(status.policies[0].servers.map((s: any) => [s.id, s.admin, s.weight]).sort(), [[100, 'enabled', 3], [101, 'disabled', 1]]);
});

test('reload (SIGHUP and POST api/reload) under load: no request fails; added used, removed drained, kept keep counters; a bad file changes nothing', async () => {
  const backends = await Promise.all(['a', 'b', 'c'].map((name) => httpBackend((_req, res) => res.end(name))));
  cleanups.push(() => Promise.all(backends.map((b) => b.close())));
  const dir = tempDir('reload-');
  cleanups.push(() => dir.remove());
  const conf = path.join(dir.dir, 'servers.conf');
  const write = (names: string[], extra: object = {}): void =>
    writeFileSync(conf, JSON.stringify({ backend_servers: names.map((n) => ({ ip: '127.0.0.1', port: backends['abc'.indexOf(n)]!.port, ...extra })) }));
  write(['a', 'b']);
  const http = await startHttpBroker(['--servers', conf, '--health-interval', '0']);
  programs.push(http.broker);

  // A steady load on keep-alive connections for the whole test: every answer must be 200.
  const client = new Pool(http.origin, { connections: 8, pipelining: 1 });
  cleanups.push(() => client.close());
  const seen: Record<string, number> = {};
  let failures = 0;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await client.request({ path: '/', method: 'GET' });
        const body = await res.body.text();
        if (res.statusCode !== 200) failures++;
        seen[body] = (seen[body] ?? 0) + 1;
      } catch {
        failures++;
      }
    }
  };
  const loops = Array.from({ length: 8 }, loop);
  await waitFor('load running', () => (seen.a ?? 0) > 50 && (seen.b ?? 0) > 50, 10_000);
  const servedA = (await brokerStatus(http.httpPort)).policies[0].httpServers.find((s: any) => s.address.endsWith(`:${backends[0]!.port}`)).served;

  write(['a', 'c']);
  http.broker.child.kill('SIGHUP');
  await waitFor('c used after SIGHUP', () => (seen.c ?? 0) > 50, 10_000);
  const afterHup = (await brokerStatus(http.httpPort)).policies[0].httpServers;
  assert.equal(afterHup.length, 2, 'b left once drained');
  assert.ok(afterHup.find((s: any) => s.address.endsWith(`:${backends[0]!.port}`)).served >= servedA, 'a kept its counters');

  writeFileSync(conf, '{"backend_servers": [{"ip": "127.0.0.1"}]}');
  const bad = await api(http.origin, 'POST', 'reload');
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /backend_servers\[0\]: "port" must be 1-65535/);
  write(['a', 'b', 'c'], { weight: 2 });
  const good = await api(http.origin, 'POST', 'reload');
  assert.equal(good.status, 200);
  assert.deepEqual(good.json.reloaded, { added: 1, removed: 0, kept: 2, reweighted: 2 });
  const beforeB = seen.b ?? 0;
  await waitFor('b used again', () => (seen.b ?? 0) > beforeB + 50, 10_000);
  running = false;
  await Promise.all(loops);
  assert.equal(failures, 0, 'no request failed because of a reload');
  const status = await brokerStatus(http.httpPort);
  assert.deepEqual(status.http.reloads.ok, 2);
  assert.deepEqual(status.http.reloads.failed, 1);
  const metrics = await get(`${http.origin}/_broker/metrics`);
  assert.match(metrics.body, /policy_broker_servers_reloads_total\{result="failed"\} 1/);
});
