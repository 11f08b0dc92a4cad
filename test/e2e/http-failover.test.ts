import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Pool } from 'undici';
import { type Program } from '../helpers/programs.js';
import {
  closedPort,
  get,
  httpBackend,
  httpServersOf,
  rawBackend,
  startHttpBroker,
  startHttpPool,
  tempDir,
  waitFor,
  waitForLiveHttpServers,
  writeServersConf,
} from '../helpers/http.js';

const programs: Program[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

after(async () => {
  for (const program of programs.reverse()) await program.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a backend killed during a run of GET requests costs no failed request', async () => {
  const { broker, port, httpPort, origin } = await startHttpBroker();
  programs.push(broker);
  const pools = await Promise.all([100, 101, 102].map((id) => startHttpPool(port, ['--id', String(id)])));
  programs.push(...pools.map((p) => p.pool));
  await waitForLiveHttpServers(httpPort, 111, 3);
  const client = new Pool(origin, { connections: 16 });
  const statuses: Record<number, number> = {};
  const byServer: Record<string, number> = {};
  let next = 0;
  let answered = 0;
  let killed: Promise<unknown> | undefined;
  const worker = async () => {
    while (next < 1500) {
      next++;
      const res = await client.request({ path: '/api', method: 'GET' });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      const id = String(res.headers['x-server-id']);
      byServer[id] = (byServer[id] ?? 0) + 1;
      if (++answered === 300) killed = pools[1]!.pool.stop('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await client.close();
  await killed;
  assert.deepEqual(statuses, { 200: 1500 });
  assert.ok(byServer['101']! < 400, `the killed server kept getting requests: ${JSON.stringify(byServer)}`);
  assert.ok(byServer['100']! > 500 && byServer['102']! > 500, JSON.stringify(byServer));
  const servers = await waitFor('the killed server to leave', async () => {
    const list = await httpServersOf(httpPort, 111);
    return list.length === 2 ? list : undefined;
  });
  assert.deepEqual(servers.map((s: any) => s.id).sort(), [100, 102]);
});

test('passive health: refused, reset and silent backends give 502/504, and requests are retried only when safe', async () => {
  const temp = tempDir('http-failover-');
  cleanups.push(() => temp.remove());
  const resets = await rawBackend((_head, socket) => socket.destroy());
  const silent = await rawBackend(() => undefined);
  const echoes: string[] = [];
  const echo = await httpBackend((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      echoes.push(`${req.method} ${body}`);
      res.end(`echo:${body}`);
    });
  });
  cleanups.push(() => resets.close(), () => silent.close(), () => echo.close());
  const conf = writeServersConf(temp.dir, [
    { port: resets.port, policy: 702 },
    { port: echo.port, policy: 702 },
    { port: silent.port, policy: 701 },
    { port: await closedPort(), policy: 704 },
    { port: echo.port, policy: 704 },
  ]);
  const { broker, origin } = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--upstream-timeout', '300']);
  programs.push(broker);

  // A POST reset by the backend may have been acted on: 502, not retried.
  const post = await requestWithBody(origin, 702, 'POST', 'pay-once');
  assert.equal(post.status, 502);
  assert.equal(post.body.code, 'BAD_GATEWAY');
  assert.match(post.body.message, /closed the connection/);
  assert.deepEqual(echoes, []);
  // The resetting backend is down now; a GET goes to the other one.
  const next = await get(`${origin}/`, { 'x-privacy-policy': '702' });
  assert.equal(next.status, 200);
  // A backend that never answers: 504 after --upstream-timeout.
  const started = Date.now();
  const timeout = await get(`${origin}/`, { 'x-privacy-policy': '701' });
  assert.equal(timeout.status, 504);
  assert.equal(JSON.parse(timeout.body).code, 'GATEWAY_TIMEOUT');
  assert.ok(Date.now() - started >= 280);
  // A refused connection means the request never left: even a POST goes to the next backend, body intact.
  const retried = await requestWithBody(origin, 704, 'POST', 'sent-once');
  assert.equal(retried.status, 200);
  assert.equal(retried.text, 'echo:sent-once');
  assert.deepEqual(echoes.slice(-1), ['POST sent-once']);
});

test('a GET reset by one backend is retried on another', async () => {
  const temp = tempDir('http-retry-');
  cleanups.push(() => temp.remove());
  const resets = await rawBackend((_head, socket) => socket.destroy());
  const ok = await rawBackend((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  cleanups.push(() => resets.close(), () => ok.close());
  const conf = writeServersConf(temp.dir, [{ port: resets.port }, { port: ok.port }]);
  const { broker, origin, httpPort } = await startHttpBroker(['--servers', conf, '--health-interval', '0', '--max-fails', '1']);
  programs.push(broker);
  const res = await get(`${origin}/`);
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  assert.equal(resets.requests.length, 1);
  const servers = await httpServersOf(httpPort, 111);
  assert.deepEqual(servers.map((s: any) => s.state), ['down', 'up']);
});

test('active health: --health-fall failed checks take a backend out, --health-rise passes bring it back', async () => {
  const temp = tempDir('http-health-');
  cleanups.push(() => temp.remove());
  let healthy = true;
  const flaky = await httpBackend((req, res) => {
    res.statusCode = req.url === '/health' && !healthy ? 500 : 200;
    res.end('flaky');
  });
  const steady = await httpBackend((_req, res) => res.end('steady'));
  cleanups.push(() => flaky.close(), () => steady.close());
  const conf = writeServersConf(temp.dir, [{ port: flaky.port }, { port: steady.port }]);
  const { broker, httpPort, origin } = await startHttpBroker(['--servers', conf, '--health-path', '/health', '--health-interval', '50', '--health-fall', '2', '--health-rise', '3']);
  programs.push(broker);
  const stateOf = async () => (await httpServersOf(httpPort, 111)).map((s: any) => s.state).join(',');
  await waitFor('both up', async () => (await stateOf()) === 'up,up');
  healthy = false;
  await waitFor('the flaky backend down', async () => (await stateOf()) === 'down,up');
  const bodies = new Set<string>();
  for (let i = 0; i < 6; i++) bodies.add((await get(`${origin}/`)).body);
  assert.deepEqual([...bodies], ['steady']);
  healthy = true;
  await waitFor('the flaky backend back up', async () => (await stateOf()) === 'up,up');
  for (let i = 0; i < 6; i++) bodies.add((await get(`${origin}/`)).body);
  assert.deepEqual([...bodies].sort(), ['flaky', 'steady']);
});

async function requestWithBody(origin: string, policy: number, method: 'POST' | 'PUT', body: string): Promise<{ status: number; text: string; body: any }> {
  const client = new Pool(origin, { connections: 1 });
  try {
    const res = await client.request({ path: '/', method, body, headers: { 'x-privacy-policy': String(policy), 'content-type': 'text/plain' } });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, text, body: parsed };
  } finally {
    await client.close();
  }
}
