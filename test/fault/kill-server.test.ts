import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sha1 } from '../helpers/classic.js';
import { clients, figures, inProcessBroker, settled, sum, tally, trackedLoad } from '../helpers/fault.js';
import { start, startBroker, type Program } from '../helpers/programs.js';

const programs: Program[] = [];
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('servers killed with SIGKILL under load: every packet answered, none lost, in-flight ones re-routed', async () => {
  const { broker, port } = await startBroker(['--server-timeout', '2000']);
  programs.push(broker);
  // One process per server, so each can be killed on its own; a little work per packet keeps many in flight.
  const servers = [100, 101, 102].map((id) =>
    start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--id', String(id), '--delay', '1']),
  );
  programs.push(...servers);
  await Promise.all(servers.map((server) => server.ready));

  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));

  const total = 12_000;
  const killAt = [total / 4, total / 2];
  const killed: number[] = [];
  const count = await trackedLoad({
    clients: peers,
    policy: 111,
    count: total,
    concurrency: 96,
    expected: (payload) => sha1(payload),
    onAnswer: (_c, answered) => {
      if (killed.length < killAt.length && answered >= killAt[killed.length]!) {
        const victim = servers[killed.length]!;
        victim.child.kill('SIGKILL');
        killed.push(killed.length);
      }
    },
  });
  const errors = sum(count.errors);
  figures('kill-server', { ...tally(count), byServer: count.byServer });
  assert.equal(killed.length, 2, 'both kills happened mid-run');
  assert.equal(count.sent, total);
  assert.equal(sum(count.failed), 0, 'no packet went unanswered');
  assert.equal(count.misdelivered, 0, 'every reply answers its own packet');
  assert.equal(settled(count), total, 'every packet got exactly one answer');
  // The third server lives throughout: whatever was in flight on a killed one was re-routed to it.
  assert.equal(errors, 0, `no errors expected while a server of the policy lives: ${JSON.stringify(count.errors)}`);
  assert.ok(count.byServer['102']! > total / 2, 'the survivor took over');
});

test('five servers in four processes, three processes killed one after another: zero lost, zero errors, every reply verified', async () => {
  // The broker runs in this process so its counters (re-routed packets) can be read.
  const { broker, port } = await inProcessBroker({ serverTimeoutMs: 2000 });
  cleanups.push(() => broker.close());
  const pools = [['100', '101'], ['102'], ['103'], ['104']].map((ids) =>
    start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', ids.join(','), '--delay', '1', '--max-inflight', '16']),
  );
  programs.push(...pools);
  await Promise.all(pools.map((pool) => pool.ready));
  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));

  const total = 15_000;
  const killAt = [total / 5, (2 * total) / 5, (3 * total) / 5];
  let kills = 0;
  const count = await trackedLoad({
    clients: peers,
    policy: 111,
    count: total,
    concurrency: 96,
    expected: (payload) => sha1(payload),
    onAnswer: (c) => {
      if (kills < killAt.length && settled(c) >= killAt[kills]!) pools[kills++]!.child.kill('SIGKILL');
    },
  });
  figures('kill-3-of-4-pools', {
    ...tally(count),
    misdelivered: count.misdelivered,
    rerouted: broker.stats.rerouted,
    byServer: count.byServer,
  });
  assert.equal(kills, 3, 'three kills happened mid-run');
  assert.equal(count.sent, total);
  assert.equal(sum(count.failed), 0, `no packet lost: ${JSON.stringify(count.failed)}`);
  assert.equal(sum(count.errors), 0, `no errors while a server lives: ${JSON.stringify(count.errors)}`);
  assert.equal(count.misdelivered, 0, 'every reply is the SHA-1 of its own packet');
  assert.equal(count.replies, total);
  assert.ok(count.byServer['104']! > total / 3, 'the survivor took over');
  // Killed servers are gone from the registry (their sessions closed); the survivor stays.
  assert.deepEqual([...broker.table.members()].map((m) => m.id), [104]);
});
