/**
 * The runtime API of a --workers broker (issue 25): two HTTP workers, two static backends from
 * servers.conf and two registered servers, all of policy 111. The API lists the whole broker;
 * a change to a static backend (held by each worker) and to a registered server (the primary's
 * registry) reaches every worker before the API answers, so no request after it goes to a server
 * it took out; reload reaches every worker; `policy-broker ctl` works against it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { brokerStatus, get, httpBackend, startHttpBroker, startHttpPool, tempDir, waitFor, type HttpBroker } from '../helpers/http.js';
import { run, type Program } from '../helpers/programs.js';

const TOKEN = 'workers-api-s3cret';
const dir = tempDir('pb-api-workers-');
const conf = path.join(dir.dir, 'servers.conf');
const backends: Array<Awaited<ReturnType<typeof httpBackend>>> = [];
const programs: Program[] = [];
let broker: HttpBroker;

const writeConf = (ports: number[]) => writeFileSync(conf, JSON.stringify({ backend_servers: ports.map((port) => ({ ip: '127.0.0.1', port, policy: 111 })) }));
const key = (i: number) => `127.0.0.1:${backends[i]!.port}`;

/** Both workers hold `count` HTTP backends (they report every 500 ms). */
function workersHold(count: number): Promise<unknown> {
  return waitFor(`both workers holding ${count} backends`, async () => {
    const s = await brokerStatus(broker.httpPort);
    return s.workers.length === 2 && s.workers.every((w: any) => w.backends === count);
  });
}

before(async () => {
  for (const name of ['a', 'b', 'c']) backends.push(await httpBackend((_req, res) => res.end(name)));
  writeConf([backends[0]!.port, backends[1]!.port]);
  // Info: the changes are logged at info, with who asked.
  broker = await startHttpBroker(['--servers', conf, '--admin-token', TOKEN, '--health-interval', '0'], { env: { POLICY_BROKER_WORKERS: '2' }, logLevel: 'info' });
  programs.push(broker.broker);
  const pool = await startHttpPool(broker.port, ['--policy', '111', '--count', '2', '--id', '100']);
  programs.push(pool.pool);
  await workersHold(4);
});

after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  for (const backend of backends) await backend.close();
  dir.remove();
});

/** Who answers `n` requests, each on a fresh connection (so both workers take some): a registered server's id, or a static backend's body. */
async function answers(n: number): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await get(`${broker.origin}/`, { 'x-privacy-policy': '111' });
    assert.equal(res.status, 200, res.body);
    const who = String(res.headers['x-server-id'] ?? res.body);
    by[who] = (by[who] ?? 0) + 1;
  }
  return by;
}

function api(method: string, call: string, body?: unknown, token = TOKEN) {
  return get(`${broker.origin}/_broker/api/${call}`, { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) }, method, body === undefined ? undefined : JSON.stringify(body));
}

function ctl(args: string[]) {
  return run('broker', ['ctl', '--admin', broker.origin, '--token', TOKEN, ...args], { timeoutMs: 20_000 });
}

async function rows(): Promise<any[]> {
  const out = await ctl(['servers', '--json']);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).servers;
}

test('GET api/servers lists the whole broker: the registered servers and every worker\'s static backends', async () => {
  const list = await rows();
  assert.deepEqual(list.map((r) => [r.key, r.policy, r.source, r.admin]).sort(), [
    ['100', 111, 'registered', 'enabled'],
    ['101', 111, 'registered', 'enabled'],
    [key(0), 111, 'static', 'enabled'],
    [key(1), 111, 'static', 'enabled'],
  ].sort());
});

test('drain a static backend and a registered server: no request goes to them afterwards, the others answer', async () => {
  const drained = await api('PATCH', `servers/${key(0)}`, { state: 'drain' });
  assert.equal(drained.status, 200, drained.body);
  assert.deepEqual(JSON.parse(drained.body).changed.map((r: any) => [r.key, r.admin]), [[key(0), 'drain']]);
  const out = await ctl(['drain', '100']);
  assert.equal(out.code, 0, out.stderr);
  // The API answered once every worker applied the change: from now on, never these two.
  const by = await answers(40);
  assert.deepEqual(Object.keys(by).sort(), ['101', 'b'], JSON.stringify(by));
  await waitFor('the workers reporting the static backend drained', async () => (await rows()).find((r) => r.key === key(0))?.admin === 'drain');
  assert.equal((await rows()).find((r) => r.key === '100')?.admin, 'drain');
  // Logged once, by the primary, with who asked.
  const logged = broker.broker.stderr().split('\n').filter((line) => line.includes('server changed by the operator'));
  assert.equal(logged.length, 2, logged.join('\n'));
  assert.ok(logged.every((line) => line.includes('127.0.0.1') && !line.includes('"worker"')), logged.join('\n'));

  // Back in, in every worker.
  assert.equal((await ctl(['enable', key(0)])).code, 0);
  assert.equal((await ctl(['enable', '100'])).code, 0);
  const again = await answers(40);
  assert.deepEqual(Object.keys(again).sort(), ['100', '101', 'a', 'b'], JSON.stringify(again));
});

test('a change is refused without the admin token, and an unknown server is 404; a body too large is 413', async () => {
  assert.equal((await api('PATCH', `servers/${key(0)}`, { state: 'drain' }, 'wrong')).status, 401);
  assert.equal((await api('PATCH', 'servers/999', { state: 'drain' })).status, 404);
  assert.equal((await api('PATCH', 'servers/100', { state: 'sideways' })).status, 400);
  assert.equal((await api('PATCH', 'servers/100', { state: 'drain', pad: 'x'.repeat(10_000) })).status, 413);
  assert.equal((await rows()).find((r) => r.key === '100')?.admin, 'enabled');
});

test('reload reaches every worker: a backend added to servers.conf is used by both', async () => {
  writeConf([backends[0]!.port, backends[1]!.port, backends[2]!.port]);
  const out = await ctl(['reload', '--json']);
  assert.equal(out.code, 0, out.stderr);
  const reloaded = JSON.parse(out.stdout).reloaded;
  assert.equal(reloaded.added, 1);
  assert.equal(reloaded.workers, 2);
  await workersHold(5);
  const by = await answers(60);
  assert.ok((by.c ?? 0) > 0, JSON.stringify(by));
});
