/**
 * Servers that hang or break the protocol: their packets are re-routed, they are marked down,
 * probed, and brought back once they answer again; no answer ever reaches the wrong client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerClient } from '../../client/index.js';
import type { Broker } from '../../broker/broker.js';
import { clients, figures, inProcessBroker, sum, tally, teardown, trackedLoad, waitFor } from '../helpers/fault.js';
import { FakeServer, replyLine } from '../helpers/wire.js';

const { cleanups } = teardown();

type Mode = 'ok' | 'hang' | 'garbage' | 'half-line' | 'half-line-silent' | 'foreign-rid' | 'wrong-type';

/** What a misbehaving server writes for one packet, by mode; undefined = nothing. */
function misbehave(mode: Mode, id: number, packet: any, foreignRid: () => number): string | undefined {
  switch (mode) {
    case 'ok':
      return replyLine(id, packet);
    case 'hang':
      return undefined;
    case 'garbage':
      return '\u0000\u00ff garbage \u{1F4A9} not json at all\n';
    case 'half-line':
      return '{"type":2,"srcid":2,"destid":1,"payl\n';
    case 'half-line-silent':
      return '{"type":2,"srcid":2,"destid":';
    case 'foreign-rid':
      // A well-formed reply for a rid this server was never sent (another server's packet).
      return JSON.stringify({ type: 2, srcid: id, destid: packet.srcid, payload: `${id}:${packet.payload}`, rid: foreignRid() }) + '\n';
    case 'wrong-type':
      return JSON.stringify({ type: 4, id, privPolyId: 111, status: 'registered', heartbeatMs: 1 }) + '\n';
  }
}

/** With every load answered, no server may still count packets as outstanding. */
function assertNothingOutstanding(broker: Broker): void {
  for (const endpoint of broker.table.endpoints('packets')) assert.equal(endpoint.outstanding, 0, `server ${endpoint.member.id} outstanding`);
}

async function setUp(serverTimeoutMs: number): Promise<{
  broker: Awaited<ReturnType<typeof inProcessBroker>>['broker'];
  good: FakeServer;
  bad: FakeServer;
  setMode: (mode: Mode) => void;
  peers: BrokerClient[];
}> {
  const { broker, port } = await inProcessBroker({ serverTimeoutMs, maxAttempts: 3 });
  cleanups.push(() => broker.close());
  let mode: Mode = 'ok';
  const good = await FakeServer.start({ id: 1, policy: 111, brokerPort: port, maxInflight: 64 });
  cleanups.push(() => good.kill());
  const foreignRid = (): number => {
    const last = good.packets.at(-1);
    return last === undefined ? 1_000_000_000 : last.rid;
  };
  const bad = await FakeServer.start({
    id: 2,
    policy: 111,
    brokerPort: port,
    maxInflight: 8,
    answer: (packet) => misbehave(mode, 2, packet, foreignRid),
  });
  cleanups.push(() => bad.kill());
  const peers = await clients(port, 4);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  return { broker, good, bad, setMode: (m) => (mode = m), peers };
}

test('a server that hangs: its packets time out and are re-routed, it is marked down, probed, and back once it answers', async () => {
  const { broker, bad, setMode, peers } = await setUp(300);
  const record = broker.table.get(2)!.packets!;
  // Warm up: the bad server answers (it is known to speak the protocol), then hangs mid-load.
  const warm = await trackedLoad({ clients: peers, policy: 111, count: 200, concurrency: 16, tag: 'warm' });
  assert.ok(warm.byServer['2']! > 0, 'server 2 served before hanging');
  setMode('hang');
  const hungAt = Date.now();
  const count = await trackedLoad({ clients: peers, policy: 111, count: 2000, concurrency: 16, tag: 'hang' });
  const downAfterMs = record.state === 'down' ? Date.now() - hungAt : -1;
  assert.equal(record.state, 'down', 'the hung server is marked down');
  assert.equal(sum(count.failed), 0, `no packet lost: ${JSON.stringify(count.failed)}`);
  assert.equal(sum(count.errors), 0, `no errors while a server lives: ${JSON.stringify(count.errors)}`);
  assert.equal(count.misdelivered, 0);
  assert.equal(count.replies, count.sent);
  const rerouted = broker.stats.rerouted;
  assert.ok(rerouted > 0, 'the hung server\'s packets were re-routed');
  // While hung it is probed (rid 0) now and then, and gets no client packets.
  const probesBefore = bad.packets.filter((p) => p.rid === 0).length;
  await waitFor('a probe of the hung server', () => bad.packets.filter((p) => p.rid === 0).length > probesBefore, 10_000);
  const realWhileDown = bad.realPackets.length;
  await trackedLoad({ clients: peers, policy: 111, count: 200, concurrency: 8, tag: 'down' });
  assert.equal(bad.realPackets.length, realWhileDown, 'no client packet reaches a server that is down');
  // It recovers: the next probe is answered and it gets traffic again.
  setMode('ok');
  const recoveredAt = Date.now();
  await waitFor('the server back up', () => record.state === 'up', 10_000);
  const backAfterMs = Date.now() - recoveredAt;
  const again = await trackedLoad({ clients: peers, policy: 111, count: 200, concurrency: 8, tag: 'again' });
  assert.ok(again.byServer['2']! > 0, 'server 2 gets packets again');
  assert.equal(again.replies, again.sent);
  assertNothingOutstanding(broker);
  figures('hung-server', {
    ...tally(count),
    rerouted,
    byServer: count.byServer,
    downAfterMs,
    probes: bad.packets.filter((p) => p.rid === 0).length,
    backUpAfterMs: backAfterMs,
  });
});

for (const mode of ['garbage', 'half-line', 'half-line-silent', 'foreign-rid', 'wrong-type'] as const) {
  test(`a server that answers ${mode}: connection dropped, in-flight re-routed, no answer to the wrong client`, async () => {
    const { broker, bad, setMode, peers } = await setUp(300);
    const record = broker.table.get(2)!.packets!;
    const warm = await trackedLoad({ clients: peers, policy: 111, count: 100, concurrency: 16, tag: 'warm' });
    assert.ok(warm.byServer['2']! > 0);
    setMode(mode);
    const connectionsBefore = bad.connections;
    const count = await trackedLoad({ clients: peers, policy: 111, count: 1500, concurrency: 16, tag: mode });
    figures(`bad-server ${mode}`, {
      ...tally(count),
      misdelivered: count.misdelivered,
      rerouted: broker.stats.rerouted,
      redials: bad.connections - connectionsBefore,
      state: record.state,
    });
    assert.equal(count.misdelivered, 0, 'no answer reached the wrong client');
    assert.equal(sum(count.failed), 0, 'no packet lost');
    assert.equal(sum(count.errors), 0, `no errors while a server lives: ${JSON.stringify(count.errors)}`);
    assert.equal(count.replies, count.sent);
    assert.equal(count.byServer['2'], undefined, 'nothing the bad server wrote reached a client');
    assert.ok(broker.stats.rerouted > 0);
    assert.ok(record.state === 'down', `the bad server is down, not ${record.state}`);
    // Fixed, it is probed back in.
    setMode('ok');
    await waitFor('the server back up', () => record.state === 'up', 10_000);
    assertNothingOutstanding(broker);
  });
}
