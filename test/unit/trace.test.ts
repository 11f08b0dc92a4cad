/**
 * The routing trace (broker/trace/, broker/cluster/trace-relay.ts): the decisions it makes of a
 * packet's and a request's outcome and failed attempts, sampling, the bounded recent list, the
 * event stream's bounds (slow clients, the subscriber cap) and the batches between processes.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { streamFilter, traceChange } from '../../broker/admin/trace-page.js';
import { DecisionBatcher } from '../../broker/trace/decision-batcher.js';
import { describeDecision, type Decision, type PacketDecision } from '../../broker/trace/decision.js';
import { TraceStream } from '../../broker/trace/trace-stream.js';
import { Tracer, type TracedPacket } from '../../broker/trace/tracer.js';

const A = { id: 100, host: '127.0.0.1', port: 4100 };
const B = { id: 300, host: '127.0.0.1', port: 4300 };

function job(seq: number, attempts = 1): TracedPacket {
  return { client: { closed: false, host: '10.0.0.7', port: 50007 }, srcid: 7, seq, policy: 111, attempts, startedAt: performance.now() - 2 };
}

function collect(tracer: Tracer): Decision[] {
  const out: Decision[] = [];
  tracer.listen({ decision: (d) => out.push(d), state: () => undefined });
  return out;
}

describe('Tracer', () => {
  it('makes one decision per outcome, with the failed attempts before it', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const seen = collect(tracer);
    const j = job(3, 2);
    tracer.rerouted(j, A, 'UNAVAILABLE');
    tracer.packet(j, B, 'reply');
    tracer.packet(job(4, 0), undefined, 'NO_SERVER');
    assert.equal(seen.length, 2);
    const [first, second] = seen as PacketDecision[];
    assert.ok(first!.decidedAt <= first!.at && first!.at - first!.decidedAt <= first!.ms + 1, `decidedAt ${first!.decidedAt}, at ${first!.at}, ms ${first!.ms}`);
    assert.ok(second!.decidedAt >= first!.decidedAt, 'decided in that order');
    assert.deepEqual({ ...first!, at: 0, ms: 0, decidedAt: 0 }, {
      kind: 'packet', at: 0, ms: 0, decidedAt: 0, client: '10.0.0.7', clientPort: 50007, srcid: 7, seq: 3, policy: 111, server: 300, address: '127.0.0.1:4300', attempt: 2,
      reroutes: [{ server: 100, address: '127.0.0.1:4100', reason: 'UNAVAILABLE' }], outcome: 'reply',
    });
    assert.ok(first!.ms >= 2, `ms ${first!.ms}`);
    assert.equal(second!.server, null);
    assert.equal(second!.outcome, 'NO_SERVER');
    assert.equal(describeDecision(first!).replace(/ [\d.]+ ms$/, ''), 'packet 10.0.0.7 srcid 7 seq 3 → policy 111 → server 300 (127.0.0.1:4300) attempt 2 after server 100 (127.0.0.1:4100) UNAVAILABLE → reply');
    assert.equal(tracer.recorded, 2);
  });

  it('names the last server tried when a packet fails after its attempts', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const seen = collect(tracer);
    const j = job(1, 2);
    tracer.rerouted(j, A, 'TIMEOUT');
    tracer.rerouted(j, B, 'TIMEOUT');
    tracer.packet(j, undefined, 'TIMEOUT');
    assert.equal(seen[0]!.server, 300);
    assert.equal(seen[0]!.reroutes.length, 2);
  });

  it('describes an HTTP decision like an access log line', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const seen = collect(tracer);
    const exchange = {};
    tracer.rerouted(exchange, { id: undefined, host: '10.1.1.1', port: 80 }, 'BAD_GATEWAY');
    tracer.http(exchange, { requestId: 'r1', method: 'GET', path: '/a', policy: 222, server: { id: 200, host: '::1', port: 8080 }, attempts: 2, status: 200, outcome: 'ok', startedAt: performance.now() });
    assert.equal(seen[0]!.kind, 'http');
    assert.equal(describeDecision(seen[0]!).replace(/ [\d.]+ ms$/, ''), 'http r1 GET /a → policy 222 → server 200 ([::1]:8080) attempt 2 after server static (10.1.1.1:80) BAD_GATEWAY → 200');
  });

  it('keeps the sampled fraction of decisions, and forgets the trails of those left out', () => {
    const rolls = [0.1, 0.6, 0.2, 0.9, 0.49];
    const tracer = new Tracer(undefined, { on: true, sample: 0.5 }, () => rolls.shift()!);
    const seen = collect(tracer);
    const left = job(2);
    tracer.rerouted(left, A, 'UNAVAILABLE');
    for (let i = 1; i <= 5; i++) tracer.packet(i === 2 ? left : job(i), B, 'reply');
    assert.deepEqual(seen.map((d) => (d as PacketDecision).seq), [1, 3, 5]);
    assert.ok(seen.every((d) => d.reroutes.length === 0));
  });

  it('keeps the last 100 decisions, checks its settings and tells the listeners of a change', () => {
    const tracer = new Tracer(undefined, { on: false, sample: 1 });
    const states: unknown[] = [];
    const stop = tracer.listen({ decision: () => undefined, state: (s) => states.push(s) });
    for (let i = 0; i < 150; i++) tracer.packet(job(i), A, 'reply');
    const recent = tracer.recentDecisions();
    assert.equal(recent.length, 100);
    assert.equal((recent[0] as PacketDecision).seq, 50);
    assert.throws(() => tracer.set({ sample: 0 }), RangeError);
    assert.throws(() => tracer.set({ sample: 1.5 }), RangeError);
    tracer.set({ on: true, sample: 0.25 });
    assert.deepEqual(states, [{ on: true, sample: 0.25 }]);
    stop();
    assert.equal(tracer.listenerCount, 0);
  });
});

/** A response whose socket takes `room` writes, then is full until drain(). */
class FakeResponse extends EventEmitter {
  readonly written: string[] = [];
  headers: unknown;
  ended = false;
  constructor(private room = Infinity) {
    super();
  }
  writeHead(_status: number, headers: unknown): this {
    this.headers = headers;
    return this;
  }
  write(chunk: string): boolean {
    this.written.push(chunk);
    return --this.room > 0;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.end();
  }
  drain(room: number): void {
    this.room = room;
    this.emit('drain');
  }
  events(name: string): string[] {
    return this.written.filter((w) => w.startsWith(`event: ${name}\n`));
  }
}

const asResponse = (r: FakeResponse) => r as unknown as ServerResponse;

describe('TraceStream', () => {
  it('sends the state and the recent decisions on open, then each decision', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    tracer.packet(job(1), A, 'reply');
    const stream = new TraceStream(tracer);
    const res = new FakeResponse();
    assert.equal(stream.open(asResponse(res), undefined, '10.0.0.1'), undefined);
    tracer.packet(job(2), B, 'reply');
    tracer.set({ on: false });
    assert.deepEqual(res.written.map((w) => w.split('\n')[0]), ['event: state', 'event: decision', 'event: decision', 'event: state']);
    assert.match(res.events('decision')[1]!, /"seq":2/);
    assert.match(res.events('state')[1]!, /"on":false/);
  });

  it('holds at most maxQueued events for a slow client, drops and counts the rest, and says so once it catches up', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const stream = new TraceStream(tracer, { maxQueued: 10 });
    const slow = new FakeResponse(2); // the state event, then full
    const fast = new FakeResponse();
    stream.open(asResponse(slow), undefined, '10.0.0.2');
    stream.open(asResponse(fast), undefined, '10.0.0.3');
    for (let i = 0; i < 100; i++) tracer.packet(job(i), A, 'reply');
    assert.equal(fast.events('decision').length, 100, 'a slow client does not hold the others back');
    assert.equal(slow.events('decision').length, 1);
    assert.equal(stream.dropped, 89);
    slow.drain(Infinity);
    assert.equal(slow.events('decision').length, 11);
    assert.deepEqual(slow.events('dropped'), ['event: dropped\ndata: {"dropped":89}\n\n']);
  });

  it('gives a stream that asks for one policy or one server only those decisions', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const stream = new TraceStream(tracer);
    const all = new FakeResponse();
    const only100 = new FakeResponse();
    const only222 = new FakeResponse();
    const staticOne = new FakeResponse();
    stream.open(asResponse(all), undefined, '10.0.0.4');
    stream.open(asResponse(only100), { server: '100' }, '10.0.0.5');
    stream.open(asResponse(only222), { policy: 222 }, '10.0.0.6');
    stream.open(asResponse(staticOne), { server: '10.1.1.1:80' }, '10.0.0.7');
    tracer.packet(job(1), A, 'reply');
    tracer.packet(job(2), B, 'reply');
    tracer.packet({ ...job(3), policy: 222 }, { id: 200, host: '127.0.0.1', port: 4200 }, 'reply');
    tracer.http({}, { requestId: 'r', method: 'GET', path: '/', policy: 111, server: { id: undefined, host: '10.1.1.1', port: 80 }, attempts: 1, status: 200, outcome: 'ok', startedAt: performance.now() });
    assert.equal(all.events('decision').length, 4);
    assert.equal(only100.events('decision').length, 1);
    assert.match(only100.events('decision')[0]!, /"server":100/);
    assert.equal(only222.events('decision').length, 1);
    assert.equal(staticOne.events('decision').length, 1);
    assert.match(staticOne.events('decision')[0]!, /"kind":"http"/);
  });

  it('refuses streams past maxClients, and stops listening when the last one closes', () => {
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const stream = new TraceStream(tracer, { maxClients: 2 });
    const a = new FakeResponse();
    const b = new FakeResponse();
    assert.equal(stream.open(asResponse(a), undefined, '10.0.0.8'), undefined);
    assert.equal(stream.open(asResponse(b), undefined, '10.0.0.9'), undefined);
    assert.equal(stream.open(asResponse(new FakeResponse()), undefined, '10.0.0.10'), 'full');
    assert.equal(tracer.listenerCount, 1);
    a.end();
    b.end();
    assert.equal(stream.clientCount, 0);
    assert.equal(tracer.listenerCount, 0);
  });
});

describe('TraceStream under attack', () => {
  it('one address holds at most maxPerAddress streams; others still get theirs', () => {
    const stream = new TraceStream(new Tracer(undefined, { on: false, sample: 1 }));
    const results = Array.from({ length: 8 }, () => stream.open(asResponse(new FakeResponse()), undefined, '127.0.0.1'));
    assert.deepEqual(results, [undefined, undefined, 'address', 'address', 'address', 'address', 'address', 'address']);
    assert.equal(stream.open(asResponse(new FakeResponse()), undefined, '127.0.0.2'), undefined, 'the operator from another address');
    stream.close();
  });

  it('a stream whose client stopped reading is ended after stallMs, and its slot is free', () => {
    let now = 0;
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    const stream = new TraceStream(tracer, { maxClients: 2, stallMs: 1000, now: () => now });
    const silent = new FakeResponse(2); // the state event, then its client reads nothing
    const reader = new FakeResponse();
    assert.equal(stream.open(asResponse(silent), undefined, '10.0.0.1'), undefined);
    assert.equal(stream.open(asResponse(reader), undefined, '10.0.0.2'), undefined);
    tracer.packet(job(1), A, 'reply');
    assert.equal(stream.open(asResponse(new FakeResponse()), undefined, '10.0.0.3'), 'full');
    now += 1001;
    const late = new FakeResponse();
    assert.equal(stream.open(asResponse(late), undefined, '10.0.0.3'), undefined);
    assert.equal(silent.ended, true);
    assert.equal(reader.ended, false);
    assert.equal(stream.evicted, 1);
    stream.close();
  });
});

describe('across --workers', () => {
  it('batches decisions to one message per interval, bounded, counting what is left out', () => {
    const sent: Array<[number, number]> = [];
    const batcher = new DecisionBatcher((decisions, dropped) => sent.push([decisions.length, dropped]), 3, 60_000);
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    tracer.listen({ decision: (d) => batcher.push(d), state: () => undefined });
    for (let i = 0; i < 5; i++) tracer.packet(job(i), A, 'reply');
    batcher.flush();
    batcher.flush();
    assert.deepEqual(sent, [[3, 2]]);
  });

  it("feeds a worker's streams from the primary and tells the primary while it has any", () => {
    const watch: boolean[] = [];
    // A worker's copy of its primary's trace is a Tracer fed by merge().
    const relayed = new Tracer(undefined, { on: false, sample: 1 });
    relayed.whenWatched((w) => watch.push(w));
    const stream = new TraceStream(relayed);
    const res = new FakeResponse();
    stream.open(asResponse(res), undefined, '10.0.0.11');
    const tracer = new Tracer(undefined, { on: true, sample: 1 });
    tracer.packet(job(9), A, 'reply');
    relayed.merge(tracer.recentDecisions());
    relayed.set({ on: true, sample: 0.5 });
    res.end();
    assert.deepEqual(watch, [true, false]);
    assert.equal(res.events('decision').length, 1);
    assert.match(res.events('state')[1]!, /"on":true,"sample":0.5/);
  });
});

describe('GET <prefix>trace/events', () => {
  it('reads its filter from the query', () => {
    assert.equal(streamFilter(new URLSearchParams('')), undefined);
    assert.deepEqual(streamFilter(new URLSearchParams('policy=111&server=100')), { policy: 111, server: '100' });
    assert.match(streamFilter(new URLSearchParams('policy=abc')) as string, /policy must be/);
    assert.match(streamFilter(new URLSearchParams('server=')) as string, /server must be/);
  });
});

describe('POST <prefix>trace', () => {
  it('reads on and sample from the query, and refuses anything else', () => {
    assert.deepEqual(traceChange(new URLSearchParams('on=true')), { on: true });
    assert.deepEqual(traceChange(new URLSearchParams('on=off&sample=0.01')), { on: false, sample: 0.01 });
    assert.match(traceChange(new URLSearchParams('on=maybe')) as string, /on must be/);
    assert.match(traceChange(new URLSearchParams('sample=2')) as string, /sample must be/);
    assert.match(traceChange(new URLSearchParams('')) as string, /say what to change/);
  });
});
