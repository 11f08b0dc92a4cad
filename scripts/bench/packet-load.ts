#!/usr/bin/env node
/**
 * The benchmark's packet load generator, a process of its own: keeps `--inflight` requests in
 * flight over `--connections` connections, warms up, then times every answer in a measured
 * window and prints one JSON line (see LoadResult). Closed loop: each answer sends the next
 * request, and the requests a chunk of answers frees go out in one write.
 *
 *   --protocol ndjson   the broker's wire protocol, to the broker or straight to one server
 *                       (servers echo `seq` too); answers are matched by `seq`, read from the
 *                       end of the line without parsing it; one answer in 1024 is parsed and
 *                       checked in full (type 2, the SHA-1 of the payload).
 *   --protocol nats     request/reply with the `nats` npm client, as its users write it.
 *
 * Lean on purpose: the load generator must not be what limits the system measured (the
 * harness runs it against one server directly to know its ceiling).
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LatencyHistogram } from '../../client/latency.js';

export interface LoadResult {
  protocol: string;
  connections: number;
  inflight: number;
  payloadBytes: number;
  /** Answers in the measured window. */
  answered: number;
  /** Type 3 answers or failed requests in the measured window. */
  errors: number;
  /** Answers checked in full, and those that were wrong. */
  verified: number;
  verifyFailed: number;
  windowMs: number;
  /** Answers per second in the measured window. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** CPU time of this process in the window, as a share of one core (1 = one core busy). */
  cpuCores: number;
}

const { values: args } = parseArgs({
  options: {
    protocol: { type: 'string', default: 'ndjson' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    connections: { type: 'string', default: '4' },
    inflight: { type: 'string', default: '64' },
    'payload-bytes': { type: 'string', default: '16' },
    policy: { type: 'string', default: '111' },
    subject: { type: 'string', default: 'bench.sha1' },
    'warmup-ms': { type: 'string', default: '1000' },
    'duration-ms': { type: 'string', default: '5000' },
  },
});

const port = Number(args.port);
const connections = Number(args.connections);
const inflight = Number(args.inflight);
const payloadBytes = Number(args['payload-bytes']);
const warmupMs = Number(args['warmup-ms']);
const durationMs = Number(args['duration-ms']);
if (!(port > 0) || !(connections >= 1) || !(inflight >= connections) || !(payloadBytes >= 0) || !(durationMs > 0)) {
  process.stderr.write('packet-load: bad arguments\n');
  process.exit(2);
}

const payload = randomAscii(payloadBytes);
const expectedReply = createHash('sha1').update(payload).digest('hex');
/** One answer in VERIFY_EVERY is parsed and checked in full. */
const VERIFY_EVERY = 1024;
/** How long the end of the window waits for the answers still in flight. */
const DRAIN_MS = 3000;

/** The run's clock and counters, shared by every connection. */
class Window {
  measuring = false;
  sending = true;
  answered = 0;
  errors = 0;
  verified = 0;
  verifyFailed = 0;
  outstanding = 0;
  startedAt = 0;
  endedAt = 0;
  cpuAtStart = process.cpuUsage();
  readonly latencies = new LatencyHistogram();

  answer(ok: boolean, latencyMs: number): void {
    this.outstanding--;
    if (!this.measuring) return;
    if (ok) {
      this.answered++;
      this.latencies.record(latencyMs);
    } else {
      this.errors++;
    }
  }

  check(ok: boolean): void {
    if (!this.measuring) return;
    this.verified++;
    if (!ok) this.verifyFailed++;
  }

  result(): LoadResult {
    const windowMs = this.endedAt - this.startedAt;
    const cpu = process.cpuUsage(this.cpuAtStart);
    const l = this.latencies;
    return {
      protocol: args.protocol!,
      connections,
      inflight,
      payloadBytes,
      answered: this.answered,
      errors: this.errors,
      verified: this.verified,
      verifyFailed: this.verifyFailed,
      windowMs: round(windowMs),
      rps: round((this.answered * 1000) / windowMs),
      p50Ms: round(l.percentile(0.5)),
      p90Ms: round(l.percentile(0.9)),
      p99Ms: round(l.percentile(0.99)),
      p999Ms: round(l.percentile(0.999)),
      maxMs: round(l.max),
      cpuCores: round((cpu.user + cpu.system) / 1000 / windowMs),
    };
  }
}

const window = new Window();

// ---------------------------------------------------------------- NDJSON

const NEWLINE = 0x0a;
const SEQ_KEY = Buffer.from('"seq":');
/** `{"type":` is 8 bytes: the type digit follows. */
const TYPE_DIGIT_AT = 8;
const DIGIT_2 = 0x32;

/** One connection of pipelined NDJSON requests, matched to answers by seq. */
class NdjsonConnection {
  private readonly prefix: string;
  /** Send times by seq modulo the ring size; a ring far larger than the requests in flight. */
  private readonly sentAt = new Float64Array(1 << 16);
  private nextSeq = 1;
  private rest: Buffer | null = null;
  private answers = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly share: number,
  ) {
    this.prefix = `{"type":0,"srcid":7,"privPoliId":${Number(args.policy)},"payloadsize":${payload.length},"payload":${JSON.stringify(payload)},"seq":`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => fatal(`connection error: ${err.message}`));
    socket.on('close', () => {
      if (window.sending) fatal('the connection closed during the run');
    });
  }

  start(): void {
    this.send(this.share, performance.now());
  }

  private send(n: number, now: number): void {
    let out = '';
    for (let i = 0; i < n; i++) {
      const seq = this.nextSeq++;
      this.sentAt[seq & 0xffff] = now;
      out += this.prefix + seq + '}\n';
    }
    window.outstanding += n;
    this.socket.write(out);
  }

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const now = performance.now();
    let start = 0;
    let lines = 0;
    for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
      this.onLine(buf, start, nl, now);
      start = nl + 1;
      lines++;
    }
    if (start < buf.length) this.rest = Buffer.from(buf.subarray(start));
    if (lines > 0 && window.sending) this.send(lines, now);
  }

  private onLine(buf: Buffer, start: number, end: number, now: number): void {
    const at = buf.lastIndexOf(SEQ_KEY, end);
    let seq = 0;
    for (let i = at + SEQ_KEY.length; at >= start && i < end; i++) {
      const digit = buf[i]! - 0x30;
      if (digit < 0 || digit > 9) break;
      seq = seq * 10 + digit;
    }
    const ok = buf[start + TYPE_DIGIT_AT] === DIGIT_2 && seq > 0;
    window.answer(ok, now - this.sentAt[seq & 0xffff]!);
    if (++this.answers % VERIFY_EVERY === 0) window.check(this.verify(buf.toString('utf8', start, end), seq));
  }

  private verify(line: string, seq: number): boolean {
    try {
      const answer = JSON.parse(line) as { type?: unknown; payload?: unknown; seq?: unknown };
      return answer.type === 2 && answer.payload === expectedReply && answer.seq === seq;
    } catch {
      return false;
    }
  }
}

async function runNdjson(): Promise<() => void> {
  const sockets = await Promise.all(
    Array.from({ length: connections }, () => {
      return new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host: args.host!, port }, () => resolve(socket));
        socket.once('error', reject);
      });
    }),
  );
  const conns = sockets.map((socket, i) => new NdjsonConnection(socket, shareOf(i)));
  for (const conn of conns) conn.start();
  return () => {
    for (const socket of sockets) socket.destroy();
  };
}

// ---------------------------------------------------------------- NATS

async function runNats(): Promise<() => void> {
  const { connect } = await import('nats');
  const conns = await Promise.all(Array.from({ length: connections }, () => connect({ servers: `${args.host}:${port}` })));
  const data = Buffer.from(payload);
  const expected = Buffer.from(expectedReply);
  let answers = 0;
  const loop = async (nc: (typeof conns)[number]): Promise<void> => {
    while (window.sending) {
      window.outstanding++;
      const t0 = performance.now();
      try {
        const msg = await nc.request(args.subject!, data, { timeout: 5000 });
        window.answer(true, performance.now() - t0);
        if (++answers % VERIFY_EVERY === 0) window.check(Buffer.compare(msg.data, expected) === 0);
      } catch {
        window.answer(false, 0);
      }
    }
  };
  conns.forEach((nc, i) => {
    for (let j = 0; j < shareOf(i); j++) void loop(nc);
  });
  return () => {
    for (const nc of conns) void nc.close();
  };
}

// ---------------------------------------------------------------- the run

/** Requests in flight on connection i: `inflight` spread as evenly as it goes. */
function shareOf(i: number): number {
  return Math.floor(inflight / connections) + (i < inflight % connections ? 1 : 0);
}

function fatal(message: string): never {
  process.stderr.write(`packet-load: ${message}\n`);
  process.exit(1);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function randomAscii(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  for (let i = 0; i < length; i++) bytes[i] = alphabet.charCodeAt(bytes[i]! % alphabet.length);
  return bytes.toString('latin1');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let close: () => void;
try {
  close = args.protocol === 'nats' ? await runNats() : await runNdjson();
} catch (err) {
  fatal(`cannot connect to ${args.host}:${port}: ${(err as Error).message}`);
}
await sleep(warmupMs);
window.measuring = true;
window.startedAt = performance.now();
window.cpuAtStart = process.cpuUsage();
await sleep(durationMs);
window.endedAt = performance.now();
const result = window.result();
window.measuring = false;
window.sending = false;
const drainDeadline = performance.now() + DRAIN_MS;
while (window.outstanding > 0 && performance.now() < drainDeadline) await sleep(5);
close();
process.stdout.write(JSON.stringify({ ...result, unanswered: window.outstanding }) + '\n');
process.exit(0);
