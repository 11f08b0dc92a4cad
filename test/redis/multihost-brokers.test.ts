/**
 * Two brokers on their own hosts (network namespaces) sharing a Redis on a third; servers on a
 * fourth, clients on a fifth, each given both brokers. Under load, one broker host's link goes
 * down (`ip link set down`): nothing errors anywhere, the broker just goes silent. The clients
 * notice the silence (--silence) and resubmit to the other broker, the pool whose session was
 * on the cut broker notices its heartbeats go unanswered (--broker-silence) and registers with
 * the other: 0 lost, every reply verified. Needs root and iproute2 (skipped, saying why, where
 * namespaces are impossible).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { figures } from '../helpers/fault.js';
import { createNetwork, unavailable, type Network } from '../helpers/netns.js';
import { run, start, type Program } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

const PREFIX = 'pbmb';
const SUBNET = '10.205.0';
const HOSTS = { b1: `${SUBNET}.1`, b2: `${SUBNET}.2`, redis: `${SUBNET}.5`, srv: `${SUBNET}.11`, client: `${SUBNET}.100` };
const PORT = 2100;
const B1 = `${HOSTS.b1}:${PORT}`;
const B2 = `${HOSTS.b2}:${PORT}`;
const SECRET = 'multihost-brokers-secret';
const SERVER_TIMEOUT_MS = 1000;
/** Above --server-timeout: a slow server is answered TIMEOUT by the broker before this. */
const CLIENT_SILENCE_MS = 1500;
const BROKER_SILENCE_MS = 1000;
const LOAD_SECONDS = 6;
/** Into the load, once every client is connected. */
const CUT_AFTER_MS = 1500;

let network: Network | undefined;
let redis: ChildProcess | undefined;
const programs: Program[] = [];
after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  if (redis !== undefined && redis.exitCode === null && redis.signalCode === null) {
    const exited = once(redis, 'exit');
    redis.kill('SIGKILL');
    await exited;
  }
  network?.remove();
});

function established(host: keyof typeof HOSTS, destination: string): string {
  try {
    return execFileSync('ip', ['netns', 'exec', network!.ns(host), 'ss', '-Htnp', 'state', 'established', 'dst', destination], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

function lastJson(stdout: string): Record<string, any> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
}

test('two brokers on their own hosts, one Redis: a broker host\'s link cut under load, clients and pool move to the other, 0 lost', { timeout: 90_000 }, async (t) => {
  const why = unavailable();
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  network = createNetwork(PREFIX, HOSTS);
  const started = Date.now();

  redis = spawn('ip', ['netns', 'exec', network.ns('redis'), 'redis-server', '--port', '6379', '--bind', HOSTS.redis, '--protected-mode', 'no', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const registry = `redis://${HOSTS.redis}:6379`;
  const brokerArgs = (host: 'b1' | 'b2') => [
    '--host', HOSTS[host], '--port', String(PORT), '--registry', registry, '--registry-resync', '250',
    '--heartbeat', '250', '--heartbeat-misses', '4', '--server-timeout', String(SERVER_TIMEOUT_MS), '--max-attempts', '5',
  ];
  const brokers = (['b1', 'b2'] as const).map((host) => {
    const b = start('broker', brokerArgs(host), { netns: network!.ns(host), env: { POLICY_BROKER_REGISTRATION_SECRET: SECRET } });
    programs.push(b);
    return b;
  });
  // Each broker waits for Redis (--registry-wait) before its ready line.
  await Promise.all(brokers.map((b) => b.ready));

  // Servers 100, 101 register with b1 first (theirs is the session the cut breaks), 200, 201 with b2.
  const pool = (ids: string, first: string, second: string, port: number) => {
    const p = start(
      'pool',
      ['--broker', `${first},${second}`, '--policy', '111', '--ids', ids, '--listen-host', HOSTS.srv, '--port', String(port), '--delay', '2', '--broker-silence', String(BROKER_SILENCE_MS), '--log-format', 'json'],
      { netns: network!.ns('srv'), env: { POLICY_SERVER_POOL_SECRET: SECRET }, logLevel: 'info' },
    );
    programs.push(p);
    return p;
  };
  const onB1 = pool('100,101', B1, B2, 7100);
  const onB2 = pool('200,201', B2, B1, 7200);
  await Promise.all([onB1.ready, onB2.ready]);

  // Every server routable from both brokers before the load.
  for (const broker of [B1, B2]) {
    await waitFor(`all four servers served through ${broker}`, async () => {
      const result = await run('client', ['--broker', broker, '--policy', '111', '--count', '40', '--json'], { netns: network!.ns('client'), timeoutMs: 20_000 });
      return Object.keys(lastJson(result.stdout).byServer ?? {}).length === 4;
    }, 20_000, 100);
  }

  // The load: one client per broker first, each given both.
  const load = (first: string, second: string) => {
    const c = start(
      'client',
      ['--broker', `${first},${second}`, '--policy', '111', '--duration', String(LOAD_SECONDS), '--concurrency', '16', '--payload-size', '32', '--verify', 'sha1', '--silence', String(CLIENT_SILENCE_MS), '--json'],
      { netns: network!.ns('client') },
    );
    programs.push(c);
    return c;
  };
  const viaB1 = load(B1, B2);
  const viaB2 = load(B2, B1);
  await waitFor('the clients connected to b1 and b2', () => established('client', B1) !== '' && established('client', B2) !== '', 20_000, 20);
  // The cut comes mid-load: that is the point, so this one delay is the scenario, not a wait for state.
  await sleep(CUT_AFTER_MS);
  execFileSync('ip', ['-n', `${PREFIX}-lan`, 'link', 'set', 'v-b1', 'down']);
  const cutAt = Date.now();

  const [codeB1, codeB2] = await Promise.all([viaB1.exited, viaB2.exited]);
  const loadEndedAt = Date.now();
  const movedLine = onB1.stderr().split('\n').find((line) => line.includes('re-registered with the broker'));
  const results = [lastJson(viaB1.lines.join('\n')), lastJson(viaB2.lines.join('\n'))];
  for (const [i, summary] of results.entries()) {
    assert.equal(summary.lost, 0, `client ${i + 1}: ${JSON.stringify(summary)}`);
    assert.deepEqual(summary.errors, {}, `client ${i + 1}`);
    assert.equal(summary.verifyFailed, 0);
    assert.equal(summary.verified, summary.sent, `client ${i + 1}: every reply verified`);
    assert.ok(summary.sent > 0);
  }
  assert.equal(codeB1, 0);
  assert.equal(codeB2, 0);
  // The client on b1 found it silent and resubmitted what it had waiting there.
  assert.ok(results[0]!.silentBrokers >= 1, 'the client on b1 gave it up for its silence');
  assert.ok(results[0]!.resubmitted > 0);
  assert.equal(results[1]!.silentBrokers, 0, 'the client on b2 never saw a silent broker');
  // The pool on b1 found its heartbeats unanswered and registered with b2.
  assert.ok(onB1.stderr().includes('the broker went silent, dropping the session'), onB1.stderr());
  assert.ok(movedLine !== undefined, 'the pool on b1 re-registered with b2');

  // After: every server is served through b2, the cut pool's included.
  let last: Record<string, any> = {};
  const allServedAt = await waitFor('all four servers served through b2', async () => {
    const afterCut = await run('client', ['--broker', B2, '--policy', '111', '--count', '80', '--verify', 'sha1', '--json'], { netns: network!.ns('client'), timeoutMs: 20_000 });
    last = lastJson(afterCut.stdout);
    assert.equal(last.lost, 0);
    assert.equal(last.verified, 80);
    return Object.keys(last.byServer).length === 4 && Date.now();
  }, 10_000, 100).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}; pool: ${onB1.stderr()}; b2: ${brokers[1]!.stderr()}`);
  });
  assert.deepEqual(Object.keys(last.byServer).sort(), ['100', '101', '200', '201']);

  const movedAt = movedLine === undefined ? undefined : Date.parse(JSON.parse(movedLine).timestamp);
  figures('multihost-brokers', {
    viaB1: { sent: results[0]!.sent, lost: results[0]!.lost, verified: results[0]!.verified, resubmitted: results[0]!.resubmitted, silentBrokers: results[0]!.silentBrokers, maxMs: results[0]!.maxMs },
    viaB2: { sent: results[1]!.sent, lost: results[1]!.lost, verified: results[1]!.verified, maxMs: results[1]!.maxMs },
    poolMovedAfterMs: movedAt === undefined || Number.isNaN(movedAt) ? undefined : movedAt - cutAt,
    after: last.byServer,
    allServedThroughB2AfterLoadMs: allServedAt - loadEndedAt,
    totalMs: Date.now() - started,
  });
});
