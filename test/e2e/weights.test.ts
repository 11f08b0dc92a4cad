/**
 * Weights end to end: servers registering with `policy-server-pool --weight` and static
 * backends with `"weight"` in servers.conf get shares of their policy that follow the weights
 * (smooth weighted round-robin), and the status page shows each weight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { teardown } from '../helpers/fault.js';
import { brokerStatus, get, httpBackend, startHttpBroker, tempDir } from '../helpers/http.js';
import { run, start } from '../helpers/programs.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const { programs, cleanups } = teardown();

test('packets: servers registered with --weight 3 and --weight 1 share a policy 3:1; the status shows the weights', async () => {
  const http = await startHttpBroker();
  programs.push(http.broker);
  const heavy = start('pool', ['--broker', `127.0.0.1:${http.port}`, '--policy', '111', '--ids', '100', '--weight', '3']);
  const light = start('pool', ['--broker', `127.0.0.1:${http.port}`, '--policy', '111', '--ids', '101']);
  programs.push(heavy, light);
  await Promise.all([heavy.ready, light.ready]);
  const result = await run('client', ['--broker', `127.0.0.1:${http.port}`, '--policy', '111', '--count', '2000', '--concurrency', '16', '--verify', 'sha1', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.answered, 2000);
  const share = summary.byServer['100'] / 2000;
  assert.ok(Math.abs(share - 0.75) <= 0.02, `server 100 (weight 3) got ${(share * 100).toFixed(1)} %: ${JSON.stringify(summary.byServer)}`);
  const status = await brokerStatus(http.httpPort);
  const servers = status.policies.find((p: any) => p.policy === 111).servers;
  assert.deepEqual(servers.map((s: any) => [s.id, s.weight]).sort(), [[100, 3], [101, 1]]);
});

test('HTTP: servers.conf "weight" 1 and 4 share the requests 1:4; a bad weight is refused at start with one line', async () => {
  const backends = await Promise.all(['light', 'heavy'].map((name) => httpBackend((_req, res) => res.end(name))));
  cleanups.push(() => Promise.all(backends.map((b) => b.close())));
  const dir = tempDir('weights-');
  cleanups.push(() => dir.remove());
  const conf = path.join(dir.dir, 'servers.conf');
  writeFileSync(conf, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: backends[0]!.port, weight: 1 }, { ip: '127.0.0.1', port: backends[1]!.port, weight: 4 }] }));
  const http = await startHttpBroker(['--servers', conf, '--health-interval', '0']);
  programs.push(http.broker);
  const counts: Record<string, number> = { light: 0, heavy: 0 };
  for (let i = 0; i < 500; i++) counts[(await get(`${http.origin}/`)).body]!++;
  assert.deepEqual(counts, { light: 100, heavy: 400 }, 'smooth weighted round-robin is exact over whole cycles');
  const status = await brokerStatus(http.httpPort);
  assert.deepEqual(status.policies[0].httpServers.map((s: any) => s.weight).sort(), [1, 4]);

  writeFileSync(conf, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: backends[0]!.port, weight: 0 }] }));
  const bad = await run('broker', ['--port', '0', '--http-port', '0', '--servers', conf]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"weight" must be a whole number from 1 to 1000/);
});
