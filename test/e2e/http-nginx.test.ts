/**
 * The classic HTTP load-balancer assignment, with real nginx servers as backends: three
 * instances on loopback ports, from a config this test writes, listed in a servers.conf.
 * nginx comes from Debian's `nginx` package (.ci/run installs it). Without it the test fails
 * under CI and is skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { findNginx, startNginx, type Nginx } from '../helpers/nginx.js';
import { type Program } from '../helpers/programs.js';
import { get, httpServersOf, startHttpBroker, tempDir, waitFor, waitForLiveHttpServers, writeServersConf, type HttpBroker } from '../helpers/http.js';

const COUNT = 3;

const nginxPath = findNginx();
if (nginxPath === undefined && process.env.CI) {
  test('nginx is installed (Debian package nginx; .ci/run installs it)', () => {
    assert.fail('nginx not found in PATH or /usr/sbin: install the Debian package "nginx" (apt-get install -y nginx)');
  });
}

const temp = tempDir('http-nginx-');
const nginxes: Nginx[] = [];
let broker: HttpBroker | undefined;
const programs: Program[] = [];

/** A site that names itself, echoes what the proxy added, and serves /health. */
const namedSite = (index: number) => (port: number) => `  server {
    listen 127.0.0.1:${port};
    location = /health { return 200 "ok\\n"; }
    location / {
      add_header X-Served-By nginx-${index} always;
      return 200 "nginx ${index} $request_uri $http_x_forwarded_for $http_x_request_id\\n";
    }
  }`;

before(async () => {
  if (nginxPath === undefined) return;
  nginxes.push(...(await Promise.all(Array.from({ length: COUNT }, (_, i) => startNginx(nginxPath, temp.dir, i, namedSite(i))))));
  const conf = writeServersConf(temp.dir, nginxes.map((n) => ({ ip: '127.0.0.1', port: n.port })));
  broker = await startHttpBroker(['--servers', conf, '--health-interval', '100', '--health-fall', '1']);
  programs.push(broker.broker);
  await waitFor('three nginx backends up', async () => (await httpServersOf(broker!.httpPort, 111)).every((s: any) => s.state === 'up'));
});

after(async () => {
  for (const program of programs) await program.stop();
  for (const nginx of nginxes) await nginx.stop();
  temp.remove();
});

test('three nginx servers from servers.conf share the requests evenly, and losing one costs no request', { skip: nginxPath === undefined ? 'nginx is not installed (apt-get install nginx)' : false }, async () => {
  const b = broker!;
  await waitForLiveHttpServers(b.httpPort, 111, COUNT);
  const client = new Pool(b.origin, { connections: 4 });
  const run = async (count: number) => {
    const byServer: Record<string, number> = {};
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const n = next++;
        const res = await client.request({ path: `/page?n=${n}`, method: 'GET', headers: { 'x-request-id': `req-${n}` } });
        const body = await res.body.text();
        assert.equal(res.statusCode, 200, body);
        assert.equal(res.headers['x-request-id'], `req-${n}`);
        const [, index, uri, forwardedFor, requestId] = body.trim().split(' ');
        assert.equal(res.headers['x-served-by'], `nginx-${index}`);
        assert.deepEqual([uri, forwardedFor, requestId], [`/page?n=${n}`, '127.0.0.1', `req-${n}`]);
        byServer[index!] = (byServer[index!] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return byServer;
  };
  try {
    const even = await run(900);
    assert.deepEqual(Object.keys(even).sort(), ['0', '1', '2']);
    for (const count of Object.values(even)) assert.ok(Math.abs(count - 300) <= 3, JSON.stringify(even));
    const stopped = nginxes[1]!;
    await stopped.stop();
    const after = await run(300);
    assert.equal(after['1'], undefined, JSON.stringify(after));
    assert.equal((after['0'] ?? 0) + (after['2'] ?? 0), 300);
    const states = (await httpServersOf(b.httpPort, 111)).map((s: any) => s.state);
    assert.deepEqual(states, ['up', 'down', 'up']);
  } finally {
    await client.close();
  }
});

/**
 * The assignment's own nginx sites: `root …; index index.html;` and nothing else, so no
 * /health. One root has an index.html (GET / is 200), one has none (403), one does not exist
 * (404): all three are alive, and the default check must say so.
 */
function stockSite(dir: string, index: number): (port: number) => string {
  const root = path.join(dir, `www-${index}`);
  if (index === 0) {
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'index.html'), '<h1>site 0</h1>\n');
  } else if (index === 1) {
    mkdirSync(root, { recursive: true });
  }
  // The handout's block, plus an access log the test counts the health checks in.
  return (port) => `  server {
    listen ${port};
    server_name localhost;
    access_log ${dir}/access-${index}.log;
    location / {
      root ${root};
      index index.html;
    }
  }`;
}

/** Health checks nginx `index` has logged so far. */
function checksLogged(dir: string, index: number): number {
  try {
    return readFileSync(path.join(dir, `access-${index}.log`), 'utf8').split('\n').filter((line) => line.includes('policy-broker-health-check')).length;
  } catch {
    return 0;
  }
}

test('stock nginx sites (no /health) stay up under the default check; a --health-path they lack takes them out and says which flag to set', { skip: nginxPath === undefined ? 'nginx is not installed (apt-get install nginx)' : false }, async () => {
  const stock = tempDir('http-nginx-stock-');
  const sites: Nginx[] = [];
  const started: Program[] = [];
  try {
    for (let i = 0; i < COUNT; i++) sites.push(await startNginx(nginxPath!, stock.dir, i, stockSite(stock.dir, i)));
    const conf = writeServersConf(stock.dir, sites.map((n) => ({ ip: '127.0.0.1', port: n.port })));
    // Default check, only faster; one failed check would take a backend out.
    const b = await startHttpBroker(['--servers', conf, '--health-interval', '50', '--health-fall', '1']);
    started.push(b.broker);
    await waitFor('five checks of each site logged', () => sites.every((_, i) => checksLogged(stock.dir, i) >= 5));
    const servers = await httpServersOf(b.httpPort, 111);
    assert.deepEqual(servers.map((s: any) => [s.state, s.failures]), [['up', 0], ['up', 0], ['up', 0]], JSON.stringify(servers));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(`${b.origin}/`)).status);
    assert.deepEqual(statuses.sort(), [200, 200, 403, 403, 404, 404], 'each site answered in turn, none with 503');

    // A path the sites do not serve: every one fails its check, and the reason names the flag.
    const strict = await startHttpBroker(['--servers', conf, '--health-path', '/health', '--health-interval', '50', '--health-fall', '1']);
    started.push(strict.broker);
    const down = await waitFor('every site down', async () => {
      const list = await httpServersOf(strict.httpPort, 111);
      return list.every((s: any) => s.state === 'down') && list;
    });
    for (const server of down) assert.match(server.lastError, /--health-path/);
    assert.equal((await get(`${strict.origin}/`)).status, 503);
  } finally {
    for (const program of started) await program.stop();
    for (const site of sites) await site.stop();
    stock.remove();
  }
});
