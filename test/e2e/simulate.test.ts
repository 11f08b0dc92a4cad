import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { childrenOf, isAlive, runScript, startScript } from '../helpers/scripts.js';

/** The pids the script printed: "(pid N)" after the broker and each pool. */
function printedPids(stdout: string): number[] {
  return [...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

// npm run simulate is `node dist/scripts/simulate.js`; scripts/simulate.sh runs the same program.
const SIMULATE = 'simulate.js';

test('simulate --help prints its usage; a bad option exits 2; simulate.sh passes both through', async () => {
  const help = await runScript(SIMULATE, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: simulate \[options\]/);
  for (const option of ['--policies', '--servers-per-policy', '--clients', '--packets', '--algorithm', '--kill-one-server-after', '--json']) {
    assert.ok(help.stdout.includes(option), option);
  }
  // The description wraps at sentence ends or word breaks only: no line of it ends mid-sentence
  // on a short fragment ("runs the clients,\nprints who …" was one).
  const description = help.stdout.slice(help.stdout.indexOf('\n\n') + 2, help.stdout.indexOf('Options:'));
  for (const line of description.split('\n').filter((l) => l.trim() !== '')) assert.ok(line.length <= 80, line);
  assert.ok(!/clients,\nprints/.test(description), description);
  const bad = await runScript(SIMULATE, ['--clients', 'many']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--clients/);
  assert.equal((await runScript(SIMULATE, ['--no-such-option'])).code, 2);
  const wrapped = await runScript('simulate.sh', ['--help']);
  assert.equal(wrapped.stdout, help.stdout);
  assert.equal((await runScript('simulate.sh', ['--clients', '0'])).code, 2);
});

test('simulate runs a small lab: every packet verified, round-robin even per policy, table and JSON, nothing left running', async () => {
  const result = await runScript(SIMULATE, ['--policies', '111,222', '--servers-per-policy', '2', '--clients', '4', '--packets', '50', '--concurrency', '2', '--seed', '3', '--json'], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = result.json;
  assert.ok(report, result.stdout);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.deepEqual(
    { sent: report.totals.sent, answered: report.totals.answered, lost: report.totals.lost, errors: report.totals.errors, verified: report.totals.verified },
    { sent: 200, answered: 200, lost: 0, errors: {}, verified: 200 },
  );
  // The classic ids: 100 and 300 serve 111, 200 and 400 serve 222.
  const servers = Object.fromEntries(report.policies.map((p: any) => [p.policy, p.servers.map((s: any) => s.id)]));
  assert.deepEqual(servers, { 111: [100, 300], 222: [200, 400] });
  for (const policy of report.policies) {
    assert.equal(policy.sent, policy.clients * 50);
    if (policy.clients === 0) continue;
    const [a, b] = policy.servers.map((s: any) => s.served);
    assert.equal(a + b, policy.sent);
    assert.ok(Math.abs(a - b) <= 1, `round-robin spread ${a}/${b}`);
  }
  assert.match(result.stdout, /policy\s+server\s+served\s+share\s+p50 ms\s+p99 ms\s+verified/);
  assert.match(result.stdout, /result: OK/);
  const pids = printedPids(result.stdout);
  assert.equal(pids.length, 3, 'a broker and two pools');
  for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} still running`);
});

test('simulate --kill-one-server-after: the killed server stops, the others take over, nothing is lost', async () => {
  const result = await runScript(
    SIMULATE,
    ['--policies', '111', '--servers-per-policy', '3', '--clients', '3', '--concurrency', '2', '--kill-one-server-after', '1s', '--duration', '3.5', '--json'],
    { timeoutMs: 60_000 },
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = result.json;
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.totals.lost, 0);
  assert.deepEqual(report.totals.errors, {});
  assert.equal(report.totals.verified, report.totals.sent);
  const failover = report.failover;
  assert.equal(failover.id, 100, 'the first server of the only policy');
  assert.equal(failover.observed, true);
  assert.ok(failover.killedServed > 0, 'the killed server served before the kill');
  // Killed one second into a 3.5 s run: each survivor served more than the killed server.
  for (const [id, served] of Object.entries(failover.survivors)) {
    assert.ok((served as number) > failover.killedServed, `server ${id} served ${String(served)}, the killed one ${failover.killedServed}`);
  }
  assert.ok(failover.brokerEvents.length > 0, 'the broker logged losing the server');
  assert.match(result.stdout, /100 \(killed\)/);
  assert.match(result.stdout, /failover: server 100 \(policy 111\) killed with SIGKILL/);
  // Four server processes and a broker, all gone.
  const pids = printedPids(result.stdout);
  assert.equal(pids.length, 4 + 1);
  for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} still running`);
});

test('simulate stops everything it started on SIGINT, also through simulate.sh', async () => {
  const run = startScript('simulate.sh', ['--policies', '111', '--clients', '2', '--duration', '60', '--delay', '5'], { timeoutMs: 60_000 });
  const deadline = Date.now() + 30_000;
  while (!/^clients /m.test(run.stdout()) && Date.now() < deadline) await sleep(50);
  assert.match(run.stdout(), /^clients /m, 'the clients started');
  const children = childrenOf(run.child.pid!);
  assert.ok(children.length >= 4, `a broker, a pool and two clients: ${children.join(' ')}`);
  run.child.kill('SIGINT');
  const result = await run.result;
  assert.equal(result.code, 130, result.stderr);
  for (const pid of children) assert.equal(isAlive(pid), false, `process ${pid} still running`);
});

test('simulate fails when the kill would come after the load', async () => {
  const result = await runScript(SIMULATE, ['--policies', '111', '--clients', '1', '--packets', '5', '--kill-one-server-after', '2s', '--duration', '0.2'], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, /finished before the kill/);
});
