/**
 * `policy-broker ctl` against a real broker with two static backends and an admin token:
 * servers (a table, or JSON with --json), drain, enable, disable, weight and reload, each
 * checked in the API's list and by where requests go; exit codes 0 done, 1 refused or
 * unreachable, 2 usage.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { closedPort, get, httpBackend, startHttpBroker, tempDir, waitFor, type HttpBroker } from '../helpers/http.js';
import { run } from '../helpers/programs.js';

const TOKEN = 'ctl-s3cret';
const dir = tempDir('pb-ctl-');
const conf = path.join(dir.dir, 'servers.conf');
const backends: Array<Awaited<ReturnType<typeof httpBackend>>> = [];
let broker: HttpBroker;
let admin: string;

const writeConf = (ports: number[]) => writeFileSync(conf, JSON.stringify({ backend_servers: ports.map((port) => ({ ip: '127.0.0.1', port })) }));

before(async () => {
  for (const name of ['a', 'b', 'c']) backends.push(await httpBackend((_req, res) => res.end(name)));
  writeConf([backends[0]!.port, backends[1]!.port]);
  broker = await startHttpBroker(['--servers', conf, '--admin-token', TOKEN, '--health-interval', '0']);
  // No path: ctl adds /_broker/.
  admin = `http://127.0.0.1:${broker.httpPort}`;
});

after(async () => {
  await broker?.broker.stop('SIGKILL');
  for (const backend of backends) await backend.close();
  dir.remove();
});

/** Runs `policy-broker ctl …` to its end (bounded). */
function ctl(args: string[], env: Record<string, string> = {}) {
  return run('broker', ['ctl', '--admin', admin, ...args], { env, timeoutMs: 20_000 });
}
const key = (i: number) => `127.0.0.1:${backends[i]!.port}`;

async function rows(): Promise<any[]> {
  const out = await ctl(['servers', '--json']);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).servers;
}
const row = async (i: number) => (await rows()).find((r) => r.key === key(i));

/** Who answers `n` requests, by body. */
async function answers(n: number): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await get(`${broker.origin}/`, { 'x-privacy-policy': '111' });
    assert.equal(res.status, 200, res.body);
    by[res.body] = (by[res.body] ?? 0) + 1;
  }
  return by;
}

test('servers: a table for people, JSON with --json', async () => {
  const table = await ctl(['servers']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0]!, /^KEY\s+POLICY\s+SOURCE\s+ADDRESS\s+HTTP\s+STATE\s+ADMIN\s+WEIGHT\s+INFLIGHT\s+SERVED$/);
  assert.equal(lines.length, 3);
  assert.ok(lines.some((line) => line.startsWith(key(0)) && /\b111\s+static\b/.test(line) && /\benabled\s+1\b/.test(line)), table.stdout);
  const list = await rows();
  assert.deepEqual(list.map((r) => [r.key, r.policy, r.admin, r.weight]).sort(), [[key(0), 111, 'enabled', 1], [key(1), 111, 'enabled', 1]].sort());
});

test('drain and enable: a drained backend gets no requests, an enabled one gets them again', async () => {
  const drained = await ctl(['drain', key(0), '--token', TOKEN]);
  assert.equal(drained.code, 0, drained.stderr);
  assert.match(drained.stdout, new RegExp(`^server ${key(0).replace(/\./g, '\\.')} \\(policy 111\\): drain, weight 1`));
  assert.equal((await row(0)).admin, 'drain');
  assert.deepEqual(await answers(6), { b: 6 });
  const enabled = await ctl(['enable', key(0)], { POLICY_CTL_TOKEN: TOKEN });
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.equal((await row(0)).admin, 'enabled');
  assert.deepEqual(await answers(6), { a: 3, b: 3 });
});

test('disable takes a backend out at once; weight changes its share', async () => {
  assert.equal((await ctl(['disable', key(1), '--token', TOKEN])).code, 0);
  assert.equal((await row(1)).admin, 'disabled');
  assert.deepEqual(await answers(4), { a: 4 });
  assert.equal((await ctl(['enable', key(1), '--token', TOKEN])).code, 0);
  const weighted = await ctl(['weight', key(1), '3', '--token', TOKEN, '--json']);
  assert.equal(weighted.code, 0, weighted.stderr);
  assert.equal(JSON.parse(weighted.stdout).changed[0].weight, 3);
  assert.deepEqual(await answers(8), { a: 2, b: 6 });
  assert.equal((await ctl(['weight', key(1), '1', '--token', TOKEN])).code, 0);
});

test('reload: a backend added to servers.conf joins; a bad file changes nothing and exits 1', async () => {
  writeConf([backends[0]!.port, backends[1]!.port, backends[2]!.port]);
  const reloaded = await ctl(['reload', '--token', TOKEN]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(reloaded.stdout.trim(), 'reloaded: 1 added, 0 removed, 2 kept, 0 reweighted');
  await waitFor('three backends', async () => ((await rows()).length === 3 ? true : undefined));
  writeFileSync(conf, '{"backend_servers": [');
  const bad = await ctl(['reload', '--token', TOKEN]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^policy-broker ctl: error: POST \/_broker\/api\/reload: 400 .*not JSON/);
  assert.equal((await rows()).length, 3);
});

test('exit codes: 1 when refused (no token, wrong token, unknown server) or unreachable, 2 on a usage error', async () => {
  const noToken = await ctl(['drain', key(0)]);
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /401 changes need Authorization/);
  assert.equal((await ctl(['drain', key(0), '--token', 'wrong'])).code, 1);
  const unknown = await ctl(['drain', '999', '--token', TOKEN]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /404 no server 999/);
  const unreachable = await run('broker', ['ctl', '--admin', `http://127.0.0.1:${await closedPort()}/_broker/`, 'servers'], { timeoutMs: 20_000 });
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the broker/);
  for (const args of [['weight', key(0), '0'], ['weight', key(0)], ['drain'], ['frobnicate'], []]) {
    const usage = await ctl(args);
    assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
  }
  assert.equal((await row(0)).admin, 'enabled', 'nothing changed');
});
