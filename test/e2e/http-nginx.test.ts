/**
 * The classic HTTP load-balancer assignment, with real nginx servers as backends: three
 * instances on loopback ports, from a config this test writes, listed in a servers.conf.
 * nginx comes from Debian's `nginx` package (.ci/run installs it). Without it the test fails
 * under CI and is skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { freePort } from '../helpers/classic.js';
import { type Program } from '../helpers/programs.js';
import { get, httpServersOf, startHttpBroker, tempDir, waitFor, waitForLiveHttpServers, writeServersConf, type HttpBroker } from '../helpers/http.js';

const COUNT = 3;

function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const nginxPath = findNginx();
if (nginxPath === undefined && process.env.CI) {
  test('nginx is installed (Debian package nginx; .ci/run installs it)', () => {
    assert.fail('nginx not found in PATH or /usr/sbin: install the Debian package "nginx" (apt-get install -y nginx)');
  });
}

interface Nginx {
  child: ChildProcess;
  port: number;
  exited: Promise<unknown>;
}

const temp = tempDir('http-nginx-');
const nginxes: Nginx[] = [];
let broker: HttpBroker | undefined;
const programs: Program[] = [];

/** One nginx instance in the foreground, everything it writes kept inside the temp dir. */
async function startNginx(nginx: string, index: number): Promise<Nginx> {
  const port = await freePort();
  const prefix = temp.dir;
  const conf = path.join(prefix, `nginx-${index}.conf`);
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    conf,
    `${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${prefix}/nginx-${index}.pid;
error_log ${prefix}/error-${index}.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body-${index};
  proxy_temp_path ${prefix}/proxy-${index};
  fastcgi_temp_path ${prefix}/fastcgi-${index};
  uwsgi_temp_path ${prefix}/uwsgi-${index};
  scgi_temp_path ${prefix}/scgi-${index};
  server {
    listen 127.0.0.1:${port};
    location = /health { return 200 "ok\\n"; }
    location / {
      add_header X-Served-By nginx-${index} always;
      return 200 "nginx ${index} $request_uri $http_x_forwarded_for $http_x_request_id\\n";
    }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', prefix, '-c', conf, '-e', path.join(prefix, `error-${index}.log`), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit');
  const instance = { child, port, exited };
  nginxes.push(instance);
  await waitFor(`nginx ${index} on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    return (await get(`http://127.0.0.1:${port}/health`)).status === 200;
  });
  return instance;
}

before(async () => {
  if (nginxPath === undefined) return;
  await Promise.all(Array.from({ length: COUNT }, (_, i) => startNginx(nginxPath, i)));
  const conf = writeServersConf(temp.dir, nginxes.map((n) => ({ ip: '127.0.0.1', port: n.port })));
  broker = await startHttpBroker(['--servers', conf, '--health-interval', '100', '--health-fall', '1']);
  programs.push(broker.broker);
  await waitFor('three nginx backends up', async () => (await httpServersOf(broker!.httpPort, 111)).every((s: any) => s.state === 'up'));
});

after(async () => {
  for (const program of programs) await program.stop();
  for (const nginx of nginxes) {
    if (nginx.child.exitCode === null && nginx.child.signalCode === null) nginx.child.kill('SIGTERM');
    await nginx.exited;
  }
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
    stopped.child.kill('SIGTERM');
    await stopped.exited;
    const after = await run(300);
    assert.equal(after['1'], undefined, JSON.stringify(after));
    assert.equal((after['0'] ?? 0) + (after['2'] ?? 0), 300);
    const states = (await httpServersOf(b.httpPort, 111)).map((s: any) => s.state);
    assert.deepEqual(states, ['up', 'down', 'up']);
  } finally {
    await client.close();
  }
});
