import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Program } from '../helpers/programs.js';
import { brokerStatus, get, startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers, type HttpBroker } from '../helpers/http.js';

// One broker with two HTTP workers (--workers from the environment: POLICY_BROKER_WORKERS),
// policy 111 served by a pool of three HTTP servers.
const programs: Program[] = [];
let broker: HttpBroker;

before(async () => {
  broker = await startHttpBroker([], { env: { POLICY_BROKER_WORKERS: '2' } });
  programs.push(broker.broker);
  const pool = await startHttpPool(broker.port, ['--policy', '111', '--count', '3', '--id', '100']);
  programs.push(pool.pool);
  await waitForLiveHttpServers(broker.httpPort, 111, 3);
  await waitForWorkerBackends(3);
});

/** Waits until both workers report `count` backends in their tables; resolves with that status. */
function waitForWorkerBackends(count: number): Promise<any> {
  return waitFor(`both workers to have ${count} backends`, async () => {
    const s = await brokerStatus(broker.httpPort);
    return s.workers.length === 2 && s.workers.every((w: any) => w.backends === count) ? s : undefined;
  });
}

after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
});

/** GETs `path` `count` times, each on a fresh connection, `concurrency` at a time; returns the answers. */
async function fresh(count: number, concurrency: number, path = '/', headers: Record<string, string> = {}): Promise<Array<{ status: number; server: string }>> {
  const answers: Array<{ status: number; server: string }> = [];
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < count) {
      next++;
      const res = await get(`${broker.origin}${path}`, headers);
      answers.push({ status: res.status, server: String(res.headers['x-server-id']) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return answers;
}

const policyOf = (status: any, policy: number): any => status.policies.find((p: any) => p.policy === policy);

test('the ready line counts the workers, and they share one HTTP port (--http-port 0 included)', async () => {
  const ready = await broker.broker.ready;
  assert.equal(ready.workers, 2);
  assert.ok(ready.http.port > 0 && ready.http.port !== ready.packet.port);
  const status = await brokerStatus(broker.httpPort);
  assert.equal(status.workers.length, 2);
  assert.ok(status.workers.every((w: any) => w.listening && w.pid !== status.pid && w.backends === 3), JSON.stringify(status.workers));
  assert.equal(status.http.address.port, broker.httpPort);
  assert.equal((await get(`${broker.origin}/_broker/health`)).status, 200);
  // The other pages come from the primary, relayed by the worker, with the same headers.
  const page = await get(`${broker.origin}/_broker/`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'] as string, /^text\/html/);
  assert.ok(page.headers['content-security-policy'] !== undefined);
  const missing = await get(`${broker.origin}/_broker/nothing`);
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).code, 'NOT_FOUND');
});

/**
 * Sends batches of `batch` fresh-connection GETs until both workers have proxied some since
 * `before` (the kernel decides which worker accepts a connection; at most `maxBatches`).
 * Resolves with every answer and the status that shows both at work.
 */
async function untilBothWorkersServe(before: any, batch: number, headers: Record<string, string> = {}, maxBatches = 20): Promise<{ answers: Array<{ status: number; server: string }>; status: any }> {
  const answers: Array<{ status: number; server: string }> = [];
  const proxiedBefore = new Map<number, number>(before.workers.map((w: any) => [w.pid, w.proxied]));
  for (let i = 0; i < maxBatches; i++) {
    answers.push(...(await fresh(batch, 4, '/', headers)));
    // A report comes every 500 ms: wait for the one that counts this batch.
    const status = await waitFor('the reports of the batch', async () => {
      const s = await brokerStatus(broker.httpPort);
      const total = s.workers.reduce((n: number, w: any) => n + w.proxied - (proxiedBefore.get(w.pid) ?? 0), 0);
      return total === answers.length ? s : undefined;
    });
    if (status.workers.every((w: any) => w.proxied > (proxiedBefore.get(w.pid) ?? 0))) return { answers, status };
  }
  throw new Error(`one worker proxied nothing of ${answers.length} requests on fresh connections`);
}

test('requests on fresh connections go to both workers and every backend; the status adds up the workers', async () => {
  const before = await brokerStatus(broker.httpPort);
  const beforeReplied = policyOf(before, 111).http.replied as number;
  const { answers, status } = await untilBothWorkersServe(before, 60);
  assert.deepEqual(
    answers.filter((a) => a.status !== 200),
    [],
  );
  const byServer = new Map<string, number>();
  for (const a of answers) byServer.set(a.server, (byServer.get(a.server) ?? 0) + 1);
  assert.deepEqual([...byServer.keys()].sort(), ['100', '101', '102']);
  // Each worker round-robins its own requests over the three.
  for (const [server, n] of byServer) assert.ok(n >= answers.length / 6, `server ${server} answered ${n} of ${answers.length}`);
  assert.equal(status.workers.length, 2);
  assert.equal(policyOf(status, 111).http.replied, beforeReplied + answers.length);
  assert.equal(
    status.workers.reduce((n: number, w: any) => n + w.requests, 0),
    status.http.requests,
  );
  const served = policyOf(status, 111).httpServers.reduce((n: number, b: any) => n + b.served, 0);
  assert.equal(served, beforeReplied + answers.length);
  assert.equal(policyOf(status, 111).http.errors.BAD_GATEWAY, undefined);
});

test('metrics: one scrape describes the whole broker', async () => {
  const status = await brokerStatus(broker.httpPort);
  const replied = policyOf(status, 111).http.replied as number;
  const res = await get(`${broker.origin}/_broker/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain/);
  assert.match(res.body, /^policy_broker_http_workers 2$/m);
  assert.match(res.body, /^policy_broker_packets_received_total 0$/m);
  assert.match(res.body, /^policy_broker_servers\{policy="111",state="up"\} 3$/m);
  const count = Number(/^policy_broker_http_request_duration_seconds_count\{policy="111"\} (\d+)$/m.exec(res.body)?.[1]);
  assert.ok(count >= replied, `duration count ${count}, status replied ${replied}`);
  assert.equal(res.body.match(/^policy_broker_http_worker_resident_memory_bytes\{/gm)?.length, 2);
  const activity = await get(`${broker.origin}/_broker/activity`);
  assert.equal(activity.status, 200);
  assert.ok(Array.isArray(JSON.parse(activity.body).samples));
});

test('servers that register after start are picked up by every worker', async () => {
  const pool = await startHttpPool(broker.port, ['--policy', '333', '--count', '2', '--id', '300']);
  programs.push(pool.pool);
  const before = await waitForWorkerBackends(5);
  const { answers, status } = await untilBothWorkersServe(before, 20, { 'x-privacy-policy': '333' });
  assert.deepEqual(
    answers.filter((a) => a.status !== 200),
    [],
  );
  assert.deepEqual([...new Set(answers.map((a) => a.server))].sort(), ['300', '301']);
  assert.equal(policyOf(status, 333).http.replied, answers.length);
});

test('on SIGTERM the workers finish the requests in flight and exit, then the broker exits 0', async () => {
  const status = await brokerStatus(broker.httpPort);
  const pids: number[] = status.workers.map((w: any) => w.pid);
  const slow = get(`${broker.origin}/bench?wait=2000`);
  await waitFor('the request in flight', async () => (await brokerStatus(broker.httpPort)).http.inflight === 1);
  const exited = broker.broker.stop('SIGTERM');
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.body, '1');
  assert.equal(await exited, 0);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} still runs`);
});
