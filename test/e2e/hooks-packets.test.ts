/**
 * Packet interceptors end to end, in this process: a broker with hooks, fake servers of three
 * policies, a raw client. Each packet gets exactly one answer, and only servers of the policy
 * it is routed with ever see it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBroker, type Broker } from '../../broker/broker.js';
import type { Interceptor } from '../../broker/hooks/interceptor.js';
import { waitFor } from '../helpers/http.js';
import { FakeServer, RawPeer } from '../helpers/wire.js';

const interceptors: Interceptor[] = [
  {
    name: 'redact-222',
    match: { policies: [222], packetTypes: [0] },
    onPacket(p) {
      return { ...p, payload: p.payload.replace(/[\w.]+@[\w.]+/g, '***') };
    },
  },
  {
    name: 'divert',
    match: { policies: [111] },
    async onPacket(p) {
      if (p.payload.startsWith('secret:')) return { ...p, policy: 333 };
    },
  },
  {
    name: 'canned',
    match: { policies: [444] },
    onPacket(p, ctx) {
      if (p.payload === 'ping') ctx.answer('pong');
      else ctx.drop('FORBIDDEN', 'only ping here');
    },
  },
  {
    name: 'shout',
    match: { policies: [222] },
    onReply(reply, ctx) {
      reply.payload = `${reply.payload.toUpperCase()} (to ${ctx.packet.srcid})`;
    },
  },
  {
    name: 'broken',
    match: { policies: [555] },
    onPacket(p) {
      if (p.payload === 'throw') throw new Error('broken hook');
      return new Promise<void>(() => undefined);
    },
    timeoutMs: 50,
  },
];

describe('packet interceptors', () => {
  let broker: Broker;
  let port = 0;
  const servers: FakeServer[] = [];
  let client: RawPeer;

  before(async () => {
    broker = createBroker({ port: 0, interceptors });
    port = (await broker.listen()).port;
    for (const [id, policy] of [[1, 111], [2, 222], [3, 333], [5, 555]] as const) servers.push(await FakeServer.start({ id, policy, brokerPort: port }));
    client = await RawPeer.connect(port);
  });

  after(async () => {
    client.close();
    for (const server of servers) server.kill();
    await broker.close();
  });

  const byId = (id: number) => servers.find((s) => s.options.id === id)!;
  let seq = 0;
  async function send(policy: number, payload: string): Promise<any> {
    const mine = ++seq;
    const before = client.received.length;
    client.send({ type: 0, srcid: 9, privPoliId: policy, payloadsize: payload.length, payload, seq: mine });
    const lines = await client.lines(before + 1);
    const answer = lines[before];
    assert.equal(answer.seq, mine);
    return answer;
  }

  it('redacts a policy\'s payloads on the way to its servers, and rewrites the reply', async () => {
    const answer = await send(222, 'write to ann@example.org today');
    assert.equal(byId(2).realPackets.at(-1).payload, 'write to *** today');
    assert.equal(answer.payload, '2:WRITE TO *** TODAY (to 9)');
  });

  it('a policy change sends the packet only to servers of its new policy (logged, counted)', async () => {
    const answer = await send(111, 'secret:x');
    assert.equal(answer.srcid, 3);
    assert.equal(byId(1).realPackets.length, 0);
    assert.equal(byId(3).realPackets.at(-1).privPoliId, 333);
    assert.equal((await send(111, 'plain')).srcid, 1);
    assert.equal(broker.interceptors!.counters.of('divert').policyChanges, 1);
  });

  it('answers or drops a packet itself, with no server registered for its policy', async () => {
    const pong = await send(444, 'ping');
    assert.deepEqual([pong.type, pong.srcid, pong.payload], [2, 0, 'pong']);
    const refused = await send(444, 'other');
    assert.deepEqual([refused.type, refused.code, refused.message], [3, 'FORBIDDEN', 'only ping here']);
  });

  it('a failing or slow hook (fail-closed) answers HOOK_FAILED; the server never sees the packet', async () => {
    const thrown = await send(555, 'throw');
    assert.equal(thrown.code, 'HOOK_FAILED');
    const slow = await send(555, 'hang');
    assert.equal(slow.code, 'HOOK_FAILED');
    assert.match(slow.message, /within 50 ms/);
    assert.equal(byId(5).realPackets.length, 0);
    const counts = broker.interceptors!.counters.of('broken');
    assert.deepEqual([counts.errors, counts.timeouts, counts.failedClosed], [1, 1, 2]);
  });

  it('many packets through async hooks: exactly one answer each, nothing left pending', async () => {
    const n = 300;
    const before = client.received.length;
    for (let i = 0; i < n; i++) {
      const policy = [111, 222, 444][i % 3]!;
      client.send({ type: 0, srcid: 9, privPoliId: policy, payloadsize: 4, payload: i % 2 ? 'ping' : 'x@y.z', seq: `m${i}` });
    }
    const lines = (await client.lines(before + n)).slice(before);
    assert.deepEqual(lines.map((l) => l.seq).sort(), Array.from({ length: n }, (_, i) => `m${i}`).sort());
    await waitFor('no packet left in hooks or the router', () => broker.sources.packetOutstanding() === 0);
  });
});
