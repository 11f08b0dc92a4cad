import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Interceptors } from '../../../broker/hooks/interceptors.js';
import type { Interceptor } from '../../../broker/hooks/interceptor.js';
import { PacketHooks } from '../../../broker/packets/packet-hooks.js';
import type { AnswerPort, Job } from '../../../broker/packets/job.js';
import { encodeReply } from '../../../broker/protocol/encode.js';
import type { ClientPacket } from '../../../broker/protocol/packet-types.js';
import { silentLogger } from '../../../broker/support/logger.js';

/** A client connection that records its answers. */
class Client implements AnswerPort {
  closed = false;
  readonly answers: any[] = [];
  /** Answers given, one per packet (the packet admission settles on each). */
  answered = 0;
  private wake: (() => void) | undefined;
  answer(_job: Job, line: string): void {
    this.answered++;
    this.answers.push(line === '' ? '' : JSON.parse(line));
    this.wake?.();
  }
  replied(job: Job, server: number): void {
    this.answer(job, encodeReply(server, job.srcid, job.reply, job.seq));
  }
  next(): Promise<any> {
    if (this.answers.length > 0) return Promise.resolve(this.answers.shift());
    return new Promise((resolve) => (this.wake = () => resolve(this.answers.shift())));
  }
}

/** A router that answers every packet with "<policy>:<payload>" from server 7, and records what it routed. */
function setup(defs: Interceptor[]) {
  const routed: ClientPacket[] = [];
  const hooks = new PacketHooks(new Interceptors(defs, silentLogger()), (client, packet) => {
    routed.push(packet);
    client.replied({ srcid: packet.srcid, seq: packet.seq, reply: `${packet.policy}:${packet.payload}` } as Job, 7);
  }, silentLogger());
  return { hooks, routed, counters: hooks.interceptors.counters };
}

const packet = (policy: number, payload: string, seq: number | string = 1): ClientPacket => ({ type: 0, srcid: 5, policy, payload, seq });

describe('packet hooks', () => {
  it('a packet no interceptor captures goes straight to the router', async () => {
    const { hooks, routed, counters } = setup([{ name: 'x', match: { policies: [222] }, onPacket: () => undefined }]);
    const client = new Client();
    hooks.accept(client, packet(111, 'hi'));
    assert.deepEqual((await client.next()).payload, '111:hi');
    assert.equal(routed.length, 1);
    assert.equal(counters.of('x').calls, 0);
    assert.equal(client.answered, 1);
  });

  it('redacts the payload, changes the policy (routed there only), and rewrites the reply in reverse order', async () => {
    const order: string[] = [];
    const { hooks, routed, counters } = setup([
      { name: 'redact', onPacket: (p) => ({ ...p, payload: p.payload.replace(/[\w.]+@[\w.]+/g, '***') }), onReply: (r) => void order.push('redact') },
      { name: 'move', onPacket: async (p) => ({ ...p, policy: 333 }), onReply: (r) => (order.push('move'), { ...r, payload: r.payload.toUpperCase() }) },
    ]);
    const client = new Client();
    hooks.accept(client, packet(222, 'mail a@b.org now', 'q'));
    const answer = await client.next();
    assert.deepEqual(routed.map((p) => [p.policy, p.payload]), [[333, 'mail *** now']]);
    assert.equal(answer.type, 2);
    assert.equal(answer.seq, 'q');
    assert.equal(answer.srcid, 7);
    assert.equal(answer.payload, '333:MAIL *** NOW');
    assert.deepEqual(order, ['move', 'redact']);
    assert.equal(counters.of('move').policyChanges, 1);
    assert.equal(client.answered, 1);
  });

  it('answers or drops without the router, once', async () => {
    const { hooks, routed, counters } = setup([
      { name: 'canned', match: { policies: [1] }, onPacket: (_p, ctx) => ctx.answer('pong') },
      { name: 'gate', match: { policies: [2] }, onPacket: (_p, ctx) => ctx.drop('FORBIDDEN', 'not here') },
    ]);
    const client = new Client();
    hooks.accept(client, packet(1, 'ping', 1));
    hooks.accept(client, packet(2, 'x', 2));
    const [a, b] = [await client.next(), await client.next()];
    assert.deepEqual([a.type, a.srcid, a.payload, a.seq], [2, 0, 'pong', 1]);
    assert.deepEqual([b.type, b.code, b.message, b.seq], [3, 'FORBIDDEN', 'not here', 2]);
    assert.equal(routed.length, 0);
    assert.equal(counters.of('canned').answered, 1);
    assert.equal(client.answers.length, 0);
  });

  it('fail-closed gives HOOK_FAILED; fail-open passes the original; on either side', async () => {
    const boom = () => {
      throw new Error('boom');
    };
    const { hooks, routed } = setup([
      { name: 'closed-in', match: { policies: [1] }, onPacket: boom },
      { name: 'open-in', match: { policies: [2] }, onPacket: boom, failMode: 'open' },
      { name: 'closed-out', match: { policies: [3] }, onReply: () => new Promise<void>(() => undefined), timeoutMs: 20 },
    ]);
    const client = new Client();
    hooks.accept(client, packet(1, 'a', 1));
    const a = await client.next();
    assert.deepEqual([a.type, a.code, a.seq], [3, 'HOOK_FAILED', 1]);
    assert.match(a.message, /closed-in failed: boom/);
    hooks.accept(client, packet(2, 'b', 2));
    assert.equal((await client.next()).payload, '2:b');
    hooks.accept(client, packet(3, 'c', 3));
    const c = await client.next();
    assert.deepEqual([c.code, c.seq], ['HOOK_FAILED', 3]);
    assert.match(c.message, /within 20 ms/);
    assert.equal(routed.length, 2);
    assert.equal(client.answered, 3);
  });

  it('a hook returning a bad packet fails; one mutating its copy in place is applied', async () => {
    const { hooks } = setup([
      { name: 'bad', match: { policies: [1] }, onPacket: () => ({ payload: 5 }) as never },
      { name: 'inplace', match: { policies: [2] }, onPacket: (p) => void (p.payload = 'changed') },
    ]);
    const client = new Client();
    hooks.accept(client, packet(1, 'a'));
    assert.equal((await client.next()).code, 'HOOK_FAILED');
    hooks.accept(client, packet(2, 'a'));
    assert.equal((await client.next()).payload, '2:changed');
  });
});
