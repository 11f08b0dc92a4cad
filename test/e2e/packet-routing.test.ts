import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sha1 } from '../helpers/classic.js';
import { run, start, startBroker, type Program } from '../helpers/programs.js';
import { RawPeer } from '../helpers/wire.js';

// One broker with the classic topology plus a three-server policy, shared by the tests below.
let brokerPort = 0;
const programs: Program[] = [];
const POLICY_IDS: Record<number, number[]> = { 111: [100, 300], 222: [200, 400], 333: [501, 502, 503] };

before(async () => {
  const { broker, port } = await startBroker();
  programs.push(broker);
  brokerPort = port;
  const pools = Object.entries(POLICY_IDS).map(([policy, ids]) =>
    start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', policy, '--ids', ids.join(',')]),
  );
  programs.push(...pools);
  await Promise.all(pools.map((pool) => pool.ready));
});

after(async () => {
  for (const program of programs.reverse()) await program.stop();
});

async function load(policy: number, count: number, extra: string[] = []): Promise<any> {
  const result = await run('client', [
    '--broker', `127.0.0.1:${brokerPort}`, '--policy', String(policy), '--count', String(count),
    '--concurrency', '32', '--verify', 'sha1', '--json', ...extra,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

test('1,000 packets spread over a policy\'s three servers within one of even (round-robin)', async () => {
  const summary = await load(333, 1000);
  assert.equal(summary.answered, 1000);
  assert.equal(summary.lost, 0);
  assert.equal(summary.verifyFailed, 0);
  assert.deepEqual(Object.keys(summary.byServer).map(Number).sort(), POLICY_IDS[333]);
  for (const count of Object.values(summary.byServer) as number[]) {
    assert.ok(Math.abs(count - 1000 / 3) <= 1, `uneven spread: ${JSON.stringify(summary.byServer)}`);
  }
});

test('no packet is ever delivered to a server of another policy', async () => {
  const summaries = await Promise.all([load(111, 2000), load(222, 2000), load(333, 2000)]);
  for (const [i, policy] of [111, 222, 333].entries()) {
    const summary = summaries[i];
    assert.equal(summary.answered, 2000);
    assert.equal(summary.verifyFailed, 0);
    const servers = Object.keys(summary.byServer).map(Number);
    for (const id of servers) assert.ok(POLICY_IDS[policy]!.includes(id), `policy ${policy} answered by server ${id}`);
  }
});

test('10,000 packets pipelined in one write on one connection are all answered with the right seq', async () => {
  const peer = await RawPeer.connect(brokerPort);
  try {
    const count = 10_000;
    let batch = '';
    for (let seq = 0; seq < count; seq++) {
      batch += JSON.stringify({ type: 0, srcid: 9, privPoliId: 111, payload: `p${seq}`, seq }) + '\n';
    }
    peer.write(batch);
    const answers = await peer.lines(count, 30000);
    const seen = new Set<number>();
    for (const answer of answers) {
      assert.equal(answer.type, 2, JSON.stringify(answer));
      assert.ok(!seen.has(answer.seq), `seq ${answer.seq} answered twice`);
      seen.add(answer.seq);
      assert.equal(answer.payload, sha1(`p${answer.seq}`));
      assert.equal(answer.destid, 9);
    }
    assert.equal(seen.size, count);
  } finally {
    peer.close();
  }
});

test('a packet for a policy nobody serves gets NO_SERVER with its seq', async () => {
  const peer = await RawPeer.connect(brokerPort);
  try {
    peer.send({ type: 0, srcid: 1, privPoliId: 999, payload: 'x', seq: 'a-1' });
    const answer = await peer.line(0);
    assert.deepEqual([answer.type, answer.code, answer.seq], [3, 'NO_SERVER', 'a-1']);
    assert.match(answer.message, /999/);
  } finally {
    peer.close();
  }
});
