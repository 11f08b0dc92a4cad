/**
 * --plugin with --workers: every HTTP worker loads the plugin and runs its HTTP hooks, the
 * primary runs its packet hooks, and the status page and metrics add the counts up.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { brokerStatus, get, httpBackend, rawRequest, splitResponses, startHttpBroker, tempDir, waitFor, writeServersConf, type HttpBroker } from '../helpers/http.js';
import { RawPeer } from '../helpers/wire.js';

const dir = tempDir('hooks-workers-');
let broker: HttpBroker;
let backend: Awaited<ReturnType<typeof httpBackend>>;

before(async () => {
  backend = await httpBackend((req, res) => res.end(`injected=${String(req.headers['x-injected'])}`));
  const plugin = path.join(dir.dir, 'hooks.mjs');
  writeFileSync(
    plugin,
    `export default [
      { name: 'inject', onRequest(ctx) { ctx.headers.set('x-injected', String(process.pid)); } },
      { name: 'short', match: { path: /^\\/frame/ }, onResponse(ctx) { ctx.headers.set('content-length', '2'); ctx.headers.append('content-length', '3'); ctx.headers.set('transfer-encoding', 'chunked'); } },
      { name: 'canned', match: { policies: [444] }, onPacket(p, ctx) { ctx.answer('pong from ' + process.pid); } },
    ];\n`,
  );
  const servers = writeServersConf(dir.dir, [{ port: backend.port, policy: 111 }]);
  broker = await startHttpBroker(['--workers', '2', '--servers', servers, '--plugin', plugin, '--health-interval', '0']);
  await waitFor('both workers listening', async () => (await brokerStatus(broker.httpPort)).workers?.filter((w: any) => w.listening).length === 2);
});

after(async () => {
  await broker?.broker.stop('SIGKILL');
  await backend?.close();
  dir.remove();
});

test('each HTTP worker runs the plugin\'s hooks; the status page and metrics add the workers\' counts', async () => {
  const pids = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const res = await get(`${broker.origin}/x${i}`);
    assert.equal(res.status, 200);
    pids.add(res.body.replace('injected=', ''));
  }
  const ready = await broker.broker.ready;
  assert.ok(![...pids].includes('undefined'));
  assert.ok(![...pids].includes(String(broker.broker.child.pid)), 'HTTP hooks run in the workers, not the primary');
  // cluster hands connections to the workers in turn: both served some.
  assert.equal(pids.size, 2, `workers seen: ${[...pids].join(', ')}; ready: ${JSON.stringify(ready)}`);
  const status = await waitFor('the workers\' hook counts in the status', async () => {
    const s = await brokerStatus(broker.httpPort);
    return s.hooks?.inject?.calls === 8 ? s : undefined;
  });
  assert.equal(status.hooks.canned.calls, 0);
  const metrics = await get(`${broker.origin}/_broker/metrics`);
  assert.match(metrics.body, /policy_broker_hook_calls_total\{hook="inject"\} 8/);
});

test('in a worker too, a hook cannot set the framing: one Content-Length, the true one, the next response intact', async () => {
  const one = 'GET /frame HTTP/1.1\r\nHost: x\r\n\r\n';
  const raw = await rawRequest(broker.httpPort, one + one, { until: (t) => splitResponses(t).length === 2 });
  const responses = splitResponses(raw.text);
  assert.equal(responses.length, 2, raw.text);
  for (const r of responses) assert.match(r.body, /^injected=\d+$/);
  for (const head of raw.text.split('\r\n\r\n').filter((part) => part.startsWith('HTTP/1.1'))) {
    assert.equal(head.match(/^content-length:/gim)?.length, 1, head);
    assert.doesNotMatch(head, /^transfer-encoding:/im);
  }
});

test('the primary runs the plugin\'s packet hooks', async () => {
  const client = await RawPeer.connect(broker.port);
  try {
    client.send({ type: 0, srcid: 1, privPoliId: 444, payloadsize: 4, payload: 'ping', seq: 1 });
    const [answer] = await client.lines(1);
    assert.equal(answer.payload, `pong from ${broker.broker.child.pid}`);
  } finally {
    client.close();
  }
  await waitFor('the packet hook counted', async () => (await brokerStatus(broker.httpPort)).hooks?.canned?.answered === 1);
});
