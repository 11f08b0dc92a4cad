import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { countedLoad } from '../helpers/counted-load.js';
import { start, startBroker, type Program } from '../helpers/programs.js';

const programs: Program[] = [];
after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
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

  const total = 12_000;
  const killAt = [total / 4, total / 2];
  const killed: number[] = [];
  const count = await countedLoad({
    port,
    policy: 111,
    count: total,
    concurrency: 96,
    onAnswer: (c) => {
      const answered = c.replies + c.lost + Object.values(c.errors).reduce((a, b) => a + b, 0);
      if (killed.length < killAt.length && answered >= killAt[killed.length]!) {
        const victim = servers[killed.length]!;
        victim.child.kill('SIGKILL');
        killed.push(killed.length);
      }
    },
  });
  const errors = Object.values(count.errors).reduce((a, b) => a + b, 0);
  const figures = { sent: count.sent, replies: count.replies, errors: count.errors, lost: count.lost, byServer: count.byServer };
  console.log(`# kill-server: ${JSON.stringify(figures)}`);
  assert.equal(killed.length, 2, 'both kills happened mid-run');
  assert.equal(count.sent, total);
  assert.equal(count.lost, 0, 'no packet went unanswered');
  assert.equal(count.replies + errors, total, 'every packet got exactly one answer');
  // The third server lives throughout: whatever was in flight on a killed one was re-routed to it.
  assert.equal(errors, 0, `no errors expected while a server of the policy lives: ${JSON.stringify(count.errors)}`);
  assert.ok(count.byServer['102']! > total / 2, 'the survivor took over');
});
