import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { createBroker } from '../../broker/index.js';
import { runLoad, type BrokerClient } from '../../client/index.js';
import { sha1 } from '../helpers/classic.js';
import { clients, trackedLoad, type TrackedCount } from '../helpers/fault.js';
import { brokerStatus, get, startHttpBroker, startHttpPool, waitFor, waitForLiveHttpServers, type HttpBroker } from '../helpers/http.js';
import { scrapeMetrics, type Scrape } from '../helpers/metrics.js';
import { start, type Program } from '../helpers/programs.js';
import { FakeServer } from '../helpers/wire.js';

// One broker with HTTP on: policy 111 served by a pool of two packet servers (100, 101),
// policy 222 by one server (200) that also serves HTTP. A short --server-timeout lets a silent
// server's packets be re-routed quickly.
let broker: HttpBroker;
let pool111: Program;
let pool222: Program;
let conns: BrokerClient[];
const P = 'policy_broker_';

before(async () => {
  broker = await startHttpBroker(['--server-timeout', '500']);
  pool111 = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '100,101']);
  const http = await startHttpPool(broker.port, ['--policy', '222', '--ids', '200']);
  pool222 = http.pool;
  await pool111.ready;
  await waitForLiveHttpServers(broker.httpPort, 222, 1);
  conns = await clients(broker.port, 2);
});

after(async () => {
  await Promise.all((conns ?? []).map((c) => c.close()));
  for (const program of [pool111, pool222, broker?.broker]) await program?.stop();
});

const load = (policy: number, count: number): Promise<TrackedCount> =>
  trackedLoad({ clients: conns, policy, count, concurrency: 16, expected: (payload) => sha1(payload), tag: `m${policy}-${Date.now()}` });

/** Checks a histogram's buckets are cumulative and end in its count; returns the count. */
function histogramCount(m: Scrape, name: string, policy: string): number {
  const buckets = m.series(`${name}_bucket`).filter((s) => s.labels.policy === policy);
  assert.ok(buckets.length > 10, `${name} has no buckets for policy ${policy}`);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets are not cumulative`);
  const count = m.value(`${name}_count`, { policy })!;
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  assert.equal(buckets.at(-1)!.value, count);
  assert.ok(m.value(`${name}_sum`, { policy })! > 0);
  return count;
}

test('metrics count the packets and HTTP requests sent, by policy, server and outcome', async () => {
  const [a, b, none] = await Promise.all([load(111, 300), load(222, 120), load(999, 7)]);
  assert.equal(a.replies, 300);
  assert.equal(b.replies, 120);
  assert.equal(a.misdelivered + b.misdelivered, 0);
  assert.deepEqual(none.errors, { NO_SERVER: 7 });
  const http = new Pool(broker.origin, { connections: 4 });
  const byServer: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: 30 }, async () => {
      const res = await http.request({ path: '/api', method: 'GET', headers: { 'x-privacy-policy': '222' } });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      byServer[String(res.headers['x-server-id'])] = (byServer[String(res.headers['x-server-id'])] ?? 0) + 1;
    }),
  );
  for (let i = 0; i < 2; i++) assert.equal((await get(`${broker.origin}/`, { 'x-privacy-policy': '4242' })).status, 404);
  await http.close();

  const m = await scrapeMetrics(broker.httpPort);
  assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(m.types.get(`${P}packet_latency_seconds`), 'histogram');
  assert.equal(m.types.get(`${P}packets_answered_total`), 'counter');
  assert.ok(m.value('process_cpu_user_seconds_total')! > 0, 'prom-client default metrics are missing');
  // Packets: in all, per policy and outcome, per server, errors by code, latency.
  assert.equal(m.value(`${P}packets_received_total`), 427);
  assert.equal(m.value(`${P}packets_in_flight`), 0);
  assert.equal(m.value(`${P}packets_answered_total`, { policy: '111', outcome: 'reply' }), 300);
  assert.equal(m.value(`${P}packets_answered_total`, { policy: '222', outcome: 'reply' }), 120);
  assert.equal(m.value(`${P}packets_answered_total`, { policy: 'none', outcome: 'NO_SERVER' }), 7);
  assert.equal(m.value(`${P}packet_errors_total`, { code: 'NO_SERVER' }), 7);
  for (const [id, n] of Object.entries(a.byServer)) assert.equal(m.value(`${P}server_packets_served_total`, { policy: '111', server: id }), n);
  assert.equal(m.value(`${P}server_packets_served_total`, { policy: '222', server: '200' }), 120);
  assert.deepEqual(Object.keys(a.byServer).sort(), ['100', '101']);
  assert.equal(histogramCount(m, `${P}packet_latency_seconds`, '111'), 300);
  assert.equal(histogramCount(m, `${P}packet_latency_seconds`, '222'), 120);
  // The registry: servers by policy and state, in flight per server.
  assert.equal(m.value(`${P}servers`, { policy: '111', state: 'up' }), 2);
  assert.equal(m.value(`${P}servers`, { policy: '111', state: 'down' }), 0);
  assert.equal(m.value(`${P}servers`, { policy: '222', state: 'up' }), 1);
  assert.equal(m.value(`${P}server_packets_in_flight`, { policy: '111', server: '100' }), 0);
  // HTTP: by policy and outcome, by server and status, errors by code, latency.
  assert.deepEqual(byServer, { 200: 30 });
  assert.equal(m.value(`${P}http_requests_answered_total`, { policy: '222', outcome: 'reply' }), 30);
  assert.equal(m.value(`${P}http_responses_total`, { policy: '222', server: '200', status: '200' }), 30);
  assert.equal(m.value(`${P}http_errors_total`, { code: 'UNKNOWN_POLICY' }), 2);
  assert.equal(histogramCount(m, `${P}http_request_duration_seconds`, '222'), 30);
  assert.ok(m.value(`${P}http_requests_total`)! >= 32);
  assert.equal(m.value(`${P}http_servers`, { policy: '222', state: 'up' }), 1);
  assert.equal(m.value(`${P}http_requests_in_flight`), 0);
  // The same numbers as the status page.
  const status = await brokerStatus(broker.httpPort);
  assert.equal(status.packet.replied, m.value(`${P}server_packets_served_total`, { policy: '111', server: '100' })! + m.value(`${P}server_packets_served_total`, { policy: '111', server: '101' })! + 120);
  const s111 = status.policies.find((p: any) => p.policy === 111);
  assert.equal(s111.packets.replied, 300);
  assert.ok(s111.packets.latencyMs.p50 > 0 && s111.packets.latencyMs.p99 >= s111.packets.latencyMs.p50);
});

test('a silent server\'s packets are re-routed, and its failures outlive its record', async () => {
  const before = await scrapeMetrics(broker.httpPort);
  const reroutedBefore = before.value(`${P}packets_rerouted_total`, { policy: '111' })!;
  const silent = await FakeServer.start({ id: 150, policy: 111, brokerPort: broker.port, answer: () => undefined, maxInflight: 4 });
  try {
    await waitFor('server 150 up', async () => {
      const status = await brokerStatus(broker.httpPort);
      return status.policies.find((p: any) => p.policy === 111)?.servers.some((s: any) => s.id === 150 && s.state === 'up');
    });
    const count = await load(111, 30);
    assert.equal(count.replies, 30, JSON.stringify(count));
    assert.equal(count.byServer[150], undefined);
    const sentToSilent = silent.realPackets.length;
    assert.ok(sentToSilent > 0, 'the silent server got no packet');
    // It never answered: the broker drops it, and its count stays in the metrics.
    const m = await waitFor('server 150 removed', async () => {
      const scrape = await scrapeMetrics(broker.httpPort);
      return scrape.value(`${P}server_packets_in_flight`, { policy: '111', server: '150' }) === undefined ? scrape : undefined;
    });
    const rerouted = m.value(`${P}packets_rerouted_total`, { policy: '111' })! - reroutedBefore;
    assert.ok(rerouted >= sentToSilent, `rerouted ${rerouted}, sent to the silent server ${sentToSilent}`);
    assert.equal(m.value(`${P}servers`, { policy: '111', state: 'up' }), 2);
    assert.ok(m.value(`${P}server_failures_total`, { policy: '111', server: '150' })! >= 1);
    assert.equal(m.value(`${P}server_packets_served_total`, { policy: '111', server: '150' }), 0);
    assert.equal((await brokerStatus(broker.httpPort)).packet.rerouted, m.value(`${P}packets_rerouted_total`, { policy: '111' }));
  } finally {
    silent.kill();
  }
});

test('a policy whose servers left keeps its counts, and its NO_SERVER answers are counted under it', async () => {
  await pool222.stop();
  await waitFor('policy 222 without servers', async () => (await scrapeMetrics(broker.httpPort)).value(`${P}servers`, { policy: '222', state: 'up' }) === undefined);
  const count = await load(222, 5);
  assert.deepEqual(count.errors, { NO_SERVER: 5 });
  const m = await scrapeMetrics(broker.httpPort);
  assert.equal(m.value(`${P}server_packets_served_total`, { policy: '222', server: '200' }), 120);
  assert.equal(m.value(`${P}packets_answered_total`, { policy: '222', outcome: 'NO_SERVER' }), 5);
  assert.equal(m.value(`${P}packets_answered_total`, { policy: '222', outcome: 'reply' }), 120);
  const activity = JSON.parse((await get(`${broker.origin}/_broker/activity`)).body);
  assert.equal(activity.intervalMs, 1000);
  assert.deepEqual([activity.errors[0].kind, activity.errors[0].code, activity.errors[0].policy], ['packet', 'NO_SERVER', 222]);
  assert.match(activity.errors[0].message, /policy 222/);
});

test('with --http-token, metrics and activity need the token; the dashboard page does not', async () => {
  const guarded = createBroker({ port: 0, httpPort: 0, httpToken: 's3cret' });
  await guarded.listen();
  try {
    const origin = `http://127.0.0.1:${guarded.httpAddress()!.port}`;
    for (const page of ['metrics', 'activity', 'status']) {
      assert.equal((await get(`${origin}/_broker/${page}`)).status, 401, page);
      assert.equal((await get(`${origin}/_broker/${page}`, { authorization: 'Bearer s3cret' })).status, 200, page);
    }
    for (const path of ['/_broker/', '/_broker']) {
      const page = await get(`${origin}${path}`);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'sha256-/);
      assert.match(page.body, /<title>policy-broker<\/title>/);
      // Nothing from elsewhere: no external src/href, stylesheet import or url() (the SVG namespace is only a name).
      assert.doesNotMatch(page.body, /(?:src|href)=["']?(?:https?:)?\/\/|@import|url\(|fetch\(['"]https?:/, 'the page must not load anything from elsewhere');
    }
  } finally {
    await guarded.close();
  }
});

/** CPU seconds (user + system) a process has used, from /proc (Linux; clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('process_cpu_seconds_total counts from the start, not from the first scrape', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async () => {
  const fresh = await startHttpBroker();
  const pool = start('pool', ['--broker', `127.0.0.1:${fresh.port}`, '--policy', '111', '--ids', '100,101']);
  try {
    await pool.ready;
    // Work for the broker before anyone scrapes: bounded in count.
    const summary = await runLoad({ port: fresh.port, policy: 111, count: 30_000, concurrency: 64 });
    assert.equal(summary.lost, 0);
    const used = cpuSecondsOf(fresh.broker.child.pid!);
    const m = await scrapeMetrics(fresh.httpPort);
    const counted = m.value('process_cpu_seconds_total')!;
    assert.ok(used >= 0.3, `the load used only ${used} s of the broker's CPU: too little to tell`);
    // What was used before the metrics were made is the start-up (loading modules): well under half.
    assert.ok(counted >= used * 0.5, `process_cpu_seconds_total ${counted} s, but the broker had used ${used} s`);
  } finally {
    await pool.stop();
    await fresh.broker.stop();
  }
});
