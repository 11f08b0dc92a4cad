import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { createBroker } from '../../broker/index.js';
import { run, start, type Program } from '../helpers/programs.js';
import { brokerStatus, get, tempDir, waitFor } from '../helpers/http.js';

const temp = tempDir('http-cli-');
const programs: Program[] = [];

after(async () => {
  for (const program of programs.reverse()) await program.stop();
  temp.remove();
});

test('the ready line names the HTTP listener; every HTTP option can come from the environment', async () => {
  const broker = start('broker', [], {
    env: { POLICY_BROKER_PORT: '0', POLICY_BROKER_HTTP_PORT: '0', POLICY_BROKER_ADMIN_PREFIX: '/_admin/', POLICY_BROKER_HTTP_TOKEN: 'env-token' },
  });
  programs.push(broker);
  const ready = await broker.ready;
  assert.equal(ready.http.host, '127.0.0.1');
  assert.ok(ready.http.port > 0 && ready.http.port !== ready.packet.port);
  const origin = `http://127.0.0.1:${ready.http.port}`;
  assert.equal((await get(`${origin}/_admin/health`)).status, 200);
  assert.equal((await get(`${origin}/_admin/status`)).status, 401);
  assert.equal((await get(`${origin}/_admin/status`, { authorization: 'Bearer env-token' })).status, 200);
  // The default prefix is then an ordinary path, proxied (here: to no server at all).
  assert.equal((await get(`${origin}/_broker/status`, { authorization: 'Bearer env-token' })).status, 404);
  assert.equal(await broker.stop(), 0);
});

test('without --http-port the ready line has no http', async () => {
  const broker = start('broker', ['--port', '0']);
  programs.push(broker);
  const ready = await broker.ready;
  assert.equal(ready.http, undefined);
  await broker.stop();
});

test('a bad servers.conf, --servers without --http-port, or a bad HTTP option: one line and exit 2', async () => {
  const bad = path.join(temp.dir, 'bad.conf');
  writeFileSync(bad, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: 70000 }] }));
  const good = path.join(temp.dir, 'good.conf');
  writeFileSync(good, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: 8001 }] }));
  const cases: Array<[string[], RegExp]> = [
    [['--http-port', '0', '--servers', bad], /backend_servers\[0\]: "port" must be 1-65535/],
    [['--http-port', '0', '--servers', path.join(temp.dir, 'missing.conf')], /cannot read/],
    [['--servers', good], /httpPort/],
    [['--http-port', '0', '--admin-prefix', 'admin'], /adminPrefix/],
    [['--http-port', '0', '--health-path', 'health'], /healthPath/],
    [['--http-port', '70000'], /--http-port/],
    [['--workers', '1'], /option workers: --workers needs --http-port/],
    [['--http-port', '0', '--workers', 'many'], /--workers.*"auto"/],
  ];
  for (const [args, message] of cases) {
    const result = await run('broker', ['--port', '0', ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^policy-broker: error: /);
    assert.match(lines[0]!, message);
  }
});

test('policy-server-pool --http: each server serves HTTP, GET /health answers 200, and the ready line names the port', async () => {
  const broker = start('broker', ['--port', '0']);
  programs.push(broker);
  const { packet } = await broker.ready;
  const pool = start('pool', ['--broker', `127.0.0.1:${packet.port}`, '--http', '--count', '2', '--id', '300', '--policy', '333']);
  programs.push(pool);
  const ready = await pool.ready;
  assert.equal(ready.servers.length, 2);
  for (const [i, server] of ready.servers.entries()) {
    assert.ok(server.httpPort > 0);
    const health = await get(`http://127.0.0.1:${server.httpPort}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok', id: 300 + i });
    const page = await get(`http://127.0.0.1:${server.httpPort}/anything`);
    assert.equal(page.headers['x-server-id'], String(300 + i));
    assert.match(page.body, new RegExp(`^Server: ${300 + i}\\nPolicy: 333\\nHostname: `));
  }
  assert.equal(await pool.stop(), 0);
});

test('the library: createBroker({ httpPort: 0 }) listens on both ports and httpAddress() names the HTTP one', async () => {
  const broker = createBroker({ port: 0, httpPort: 0, healthIntervalMs: 0 });
  const packet = await broker.listen();
  const http = broker.httpAddress();
  assert.ok(http !== undefined && http.port > 0 && http.port !== packet.port);
  const health = await get(`http://127.0.0.1:${http.port}/_broker/health`);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
  await broker.close();
  assert.equal(createBroker({ port: 0 }).httpAddress(), undefined);
});

test('on SIGTERM the broker finishes the HTTP requests in flight, then exits 0', async () => {
  const broker = start('broker', ['--port', '0', '--http-port', '0']);
  programs.push(broker);
  const ready = await broker.ready;
  const pool = start('pool', ['--broker', `127.0.0.1:${ready.packet.port}`, '--http']);
  programs.push(pool);
  await pool.ready;
  const origin = `http://127.0.0.1:${ready.http.port}`;
  await waitFor('the HTTP server', async () => (await get(`${origin}/bench`)).status === 200);
  const slow = get(`${origin}/bench?wait=400`);
  await waitFor('the request in flight', async () => (await brokerStatus(ready.http.port)).http.inflight === 1);
  const exited = broker.stop('SIGTERM');
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.body, '1');
  assert.equal(await exited, 0);
});
