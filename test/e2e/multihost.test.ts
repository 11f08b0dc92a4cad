import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runScript } from '../helpers/scripts.js';

// Its own prefix, so that a demo someone runs by hand (prefix pb) does not make the test wait.
const PREFIX = 'pbtest';

function namespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0]!)
      .filter((name) => name !== '');
  } catch {
    return [];
  }
}

test('multihost.sh: servers on their own hosts, a client on another, a link cut mid-load fails over with nothing lost', { timeout: 120_000 }, async (t) => {
  const result = await runScript('multihost.sh', ['--prefix', PREFIX, '--allow-skip', '--json', '--load-seconds', '5', '--cut-after', '1500ms'], { timeoutMs: 110_000 });
  if (result.code === 0 && result.stdout.startsWith('SKIP:')) {
    // Only where namespaces are impossible: not root, no CAP_NET_ADMIN, no iproute2.
    t.skip(result.stdout.trim());
    return;
  }
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = result.json;
  assert.ok(report?.multihost, result.stdout);
  assert.equal(report.ok, true, JSON.stringify(report.problems));

  // The broker listens on its host's address and dials each server at the address its
  // registration came from: the server host's own address, not loopback.
  assert.equal(report.broker, '10.203.0.1:2100');
  assert.deepEqual(report.registered, { 100: '10.203.0.11:7100', 200: '10.203.0.11:7200', 300: '10.203.0.12:7100', 400: '10.203.0.12:7200' });

  // Before the cut the client host is served by both server hosts.
  assert.deepEqual(report.before.byPolicy, { 111: { 100: 20, 300: 20 }, 222: { 200: 20, 400: 20 } });
  assert.equal(report.before.verified, 80);

  // During: the link goes down, nothing is lost; every reply verifies.
  assert.equal(report.during.lost, 0);
  assert.equal(report.during.verifyFailed, 0);
  assert.ok(report.during.sent > 0);
  assert.equal(report.cut.host, 'srv1');
  assert.deepEqual(report.cut.servers, [100, 200]);
  for (const id of ['100', '200']) assert.ok(report.cut.brokerEvents[id].length > 0, `the broker took ${id} out`);

  // After: only the servers of the host still connected answer.
  assert.deepEqual(report.after.byPolicy, { 111: { 300: 40 }, 222: { 400: 40 } });
  assert.equal(report.failover, true);

  assert.match(result.stdout, /cut\s+ip -n pbtest-lan link set v-srv1 down/);
  assert.deepEqual(namespaces().filter((name) => name.startsWith(`${PREFIX}-`)), [], 'every namespace removed');
});
