/**
 * The CPU an interceptor costs per packet and per request, measured in this process without
 * sockets (the side-by-side runs of `npm run bench -- --variant` measure the whole path, but on
 * a shared machine their noise is larger than these costs). Each case runs the hook machinery
 * the broker runs (the packet hooks in front of a router that answers at once; an HTTP request
 * run and its response tap over a fake exchange) N times, five times over; the median is
 * printed in ns per message, beside the same loop with no interceptors.
 *
 *   flock /tmp/bench.lock node dist/scripts/bench/hook-cost.js [--json]
 */
import type { Dispatcher } from 'undici';
import { ResponseTap, type ResponseSink } from '../../broker/hooks/http-response.js';
import { Interceptors } from '../../broker/hooks/interceptors.js';
import type { Interceptor } from '../../broker/hooks/interceptor.js';
import { PacketHooks } from '../../broker/packets/packet-hooks.js';
import type { AnswerPort, Job } from '../../broker/packets/job.js';
import { encodeReply } from '../../broker/protocol/encode.js';
import type { ClientPacket } from '../../broker/protocol/packet-types.js';
import { silentLogger } from '../../broker/support/logger.js';

const N = 100_000;
const REPEATS = 5;

const NONE_MATCH: Interceptor[] = [
  { name: 'http-none', match: { path: /^\/never-requested$/ }, onRequest() {}, onResponse() {} },
  { name: 'packets-none', match: { policies: [987654321] }, onPacket() {}, onReply() {} },
];
const PASSTHROUGH: Interceptor[] = [{ name: 'passthrough', onRequest() {}, onResponse() {}, onPacket() {}, onReply() {} }];

/** Median ns per iteration of `body` over REPEATS runs of N. */
function measure(body: (i: number) => void): number {
  const runs: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) body(i);
    runs.push(Number(process.hrtime.bigint() - start) / N);
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(REPEATS / 2)]!;
}

// Packets: a client that counts answers, a router that answers every packet at once.

const client: AnswerPort & { answers: number } = {
  closed: false,
  answers: 0,
  answer(_job: Job, _line: string) {
    this.answers++;
  },
  // The connection encodes the reply once, as PeerConnection.replied does.
  replied(job: Job, server: number) {
    this.answer(job, encodeReply(server, job.srcid, job.reply, job.seq));
  },
};
const route = (port: AnswerPort, packet: ClientPacket): void => port.replied({ srcid: packet.srcid, seq: packet.seq, reply: packet.payload } as Job, 7);
const packet: ClientPacket = { type: 0, srcid: 1, policy: 111, payload: 'x'.repeat(64), seq: 1 };

function packetCase(defs: Interceptor[] | undefined): number {
  if (defs === undefined) return measure(() => route(client, packet));
  const hooks = new PacketHooks(new Interceptors(defs, silentLogger()), route, silentLogger());
  return measure(() => hooks.accept(client, packet));
}

// HTTP: the request run, and the response tap over a sink that writes nowhere.

const HEADERS = ['host', 'example', 'user-agent', 'wrk', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-request-id', 'abc'];
const RESPONSE_HEADERS = ['content-type', 'text/html', 'content-length', '612', 'x-request-id', 'abc'];
const controller = { pause() {}, resume() {}, abort() {} } as unknown as Dispatcher.DispatchController;
const sink: ResponseSink = {
  live: true,
  relayHead: () => true,
  relayData() {},
  complete() {},
  failResponse() {},
};
const req = { headers: {} } as never;
const chunk = Buffer.alloc(612);

function httpCase(defs: Interceptor[] | undefined): number {
  if (defs === undefined) return measure(() => sink.relayHead(200, undefined, RESPONSE_HEADERS.slice(), undefined));
  const interceptors = new Interceptors(defs, silentLogger());
  return measure(() => {
    const run = interceptors.forRequest('GET', '/index.html', 111, HEADERS, 'abc', '127.0.0.1');
    if (run === undefined) {
      sink.relayHead(200, undefined, RESPONSE_HEADERS.slice(), undefined);
      return;
    }
    run.run(req, false, () => undefined);
    run.target();
    const tap = new ResponseTap(run, sink);
    tap.start(controller, 200, undefined, RESPONSE_HEADERS.slice());
    tap.data(chunk);
    tap.end();
  });
}

const result = {
  n: N,
  repeats: REPEATS,
  packetNs: { none: packetCase(undefined), noneMatching: packetCase(NONE_MATCH), passthrough: packetCase(PASSTHROUGH) },
  httpNs: { none: httpCase(undefined), noneMatching: httpCase(NONE_MATCH), passthrough: httpCase(PASSTHROUGH) },
};
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
else {
  const row = (what: string, r: Record<string, number>) =>
    `${what}: no interceptors ${r.none!.toFixed(0)} ns, interceptors matching nothing ${r.noneMatching!.toFixed(0)} ns (+${(r.noneMatching! - r.none!).toFixed(0)}), one pass-through ${r.passthrough!.toFixed(0)} ns (+${(r.passthrough! - r.none!).toFixed(0)})`;
  console.log(row('per packet', result.packetNs));
  console.log(row('per HTTP request', result.httpNs));
}
