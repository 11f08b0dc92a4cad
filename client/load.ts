/**
 * The load generator: `count` packets, or as many as fit in `duration`, with `concurrency` in
 * flight at once over `connections` connections, each answer timed, attributed to its server
 * or error code, and optionally verified against the SHA-1 of what was sent.
 */
import { randomBytes } from 'node:crypto';
import { sha1Hex } from '../broker/support/sha1.js';
import { performance } from 'node:perf_hooks';
import PQueue from 'p-queue';
import { silentLogger, type Logger } from '../broker/support/logger.js';
import { BrokerClient, type Answer, type ClientOptions } from './client.js';
import { ClientError } from './errors.js';
import { latencyRecorder } from './latency.js';
import { CLIENT_DEFAULTS, LOAD_DEFAULTS, type VerifyMode } from './options.js';
import { LoadStats, type LoadSummary } from './summary.js';

export interface LoadOptions {
  /** Broker host (default 127.0.0.1). */
  host?: string;
  /** Broker packet port (default 2100). */
  port?: number;
  /** TLS to the broker, as in ClientOptions.tls. */
  tls?: ClientOptions['tls'];
  /** Other brokers to fail over to, as in ClientOptions.brokers. */
  brokers?: ClientOptions['brokers'];
  /** As in ClientOptions.silenceMs. */
  silenceMs?: number;
  /** Packets to send. With durationMs too, whichever ends first ends the run. */
  count?: number;
  /** Send until this many ms have passed, then wait for the answers still due. */
  durationMs?: number;
  /** Packets in flight at once, over all connections (default 1). */
  concurrency?: number;
  /** Connections to spread them over (default min(4, concurrency)). */
  connections?: number;
  /** The payload of every packet (default "hello"); ignored when payloadSize is given. */
  payload?: string;
  /** Send random ASCII payloads of this many characters instead. */
  payloadSize?: number;
  policy?: number;
  srcid?: number;
  /** How long each packet may wait for its answer, in ms (default 10000). */
  timeoutMs?: number;
  /** 'sha1': check each reply's payload is the SHA-1 hex of the packet's. */
  verify?: VerifyMode;
  /** Called every progressIntervalMs during the run, and once at the end. */
  onProgress?: (progress: LoadProgress) => void;
  progressIntervalMs?: number;
  logger?: Logger;
}

export interface LoadProgress {
  /** Packets written so far. */
  sent: number;
  /** Answered so far (type 2 or 3). */
  answered: number;
  /** Failed so far with no answer (local timeout, connection closed). */
  failed: number;
  elapsedMs: number;
}

/** Random payloads are drawn from a few variants made up front, so sending costs no hashing. */
const PAYLOAD_VARIANTS = 16;
/** …and no more of them than fit in this many characters. */
const PAYLOAD_VARIANT_BUDGET = 16 * 1024 * 1024;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Runs a load and resolves with its summary. Rejects (with a ClientError of code
 * CONNECT_FAILED) only when the broker cannot be reached at the start; failures during the
 * run are counted, not thrown.
 */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const run = new LoadRun(options);
  return run.execute();
}

/** One run's state, kept in fields so the per-packet path allocates nothing of its own. */
class LoadRun {
  private readonly clients: BrokerClient[] = [];
  private readonly packets: object[] = [];
  private readonly expected: Array<string | undefined> = [];
  private readonly stats: LoadStats;
  private readonly queue: PQueue;
  private readonly concurrency: number;
  private readonly logger: Logger;
  private started = 0;
  private stopped = false;

  constructor(private readonly options: LoadOptions) {
    checkLoadOptions(options);
    this.concurrency = options.concurrency ?? LOAD_DEFAULTS.concurrency;
    this.logger = options.logger ?? silentLogger();
    this.queue = new PQueue({ concurrency: this.concurrency });
    this.stats = new LoadStats(latencyRecorder(options.durationMs === undefined ? options.count : undefined, LOAD_DEFAULTS.maxExactLatencies));
    this.preparePackets();
  }

  async execute(): Promise<LoadSummary> {
    await this.connect();
    this.started = performance.now();
    const progress = this.options.onProgress === undefined ? null : setInterval(this.report, this.options.progressIntervalMs ?? LOAD_DEFAULTS.progressIntervalMs);
    const deadline = this.options.durationMs === undefined ? null : setTimeout(this.stop, this.options.durationMs);
    let elapsedMs = 0;
    try {
      await this.feed();
      // Every send settles within its timeout (or when its connection closes), so this is bounded.
      await this.queue.onIdle();
      elapsedMs = performance.now() - this.started;
    } finally {
      if (progress !== null) clearInterval(progress);
      if (deadline !== null) clearTimeout(deadline);
      await Promise.all(this.clients.map((client) => client.close()));
    }
    for (const client of this.clients) {
      this.stats.resubmitted += client.resubmitted;
      this.stats.silentBrokers += client.silentBrokers;
    }
    this.report();
    return this.stats.summary(elapsedMs);
  }

  private async connect(): Promise<void> {
    const connections = this.options.connections ?? Math.min(LOAD_DEFAULTS.maxDefaultConnections, this.concurrency);
    const clientOptions = {
      host: this.options.host ?? CLIENT_DEFAULTS.host,
      port: this.options.port ?? CLIENT_DEFAULTS.port,
      timeoutMs: this.options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs,
      tls: this.options.tls,
      brokers: this.options.brokers,
      silenceMs: this.options.silenceMs,
      logger: this.logger,
    };
    const results = await Promise.allSettled(Array.from({ length: connections }, () => BrokerClient.connect(clientOptions)));
    for (const result of results) if (result.status === 'fulfilled') this.clients.push(result.value);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(this.clients.map((client) => client.close()));
      throw failed.reason;
    }
  }

  /** Keeps the queue topped up: `concurrency` running, up to as many waiting, until the end. */
  private async feed(): Promise<void> {
    const count = this.options.count ?? Infinity;
    let queued = 0;
    while (!this.stopped && queued < count) {
      if (this.queue.size >= this.concurrency) {
        await this.queue.onSizeLessThan(this.concurrency);
        continue;
      }
      queued++;
      void this.queue.add(this.sendOne);
    }
  }

  private readonly sendOne = async (): Promise<void> => {
    if (this.stopped) return;
    const i = this.stats.sent++;
    const client = this.clients[i % this.clients.length]!;
    const variant = i % this.packets.length;
    const t0 = performance.now();
    try {
      const answer = await client.send(this.packets[variant]!);
      this.record(answer, performance.now() - t0, this.expected[variant]);
    } catch (err) {
      this.stats.failure(err instanceof ClientError ? err.code : 'SEND_FAILED');
      // With every connection gone, the rest would only fail at once: end the run.
      if (this.clients.every((c) => c.closed)) this.stop();
    }
  };

  private record(answer: Answer, latencyMs: number, expected: string | undefined): void {
    if (answer.type === 2) {
      this.stats.reply(answer.srcid, latencyMs, expected === undefined ? undefined : answer.payload === expected);
    } else if (answer.type === 3) {
      this.stats.error(answer.code);
    } else {
      this.stats.error(`UNEXPECTED_TYPE_${String(answer.type)}`);
    }
  }

  /** At the deadline: send nothing more, drop what waits, let what is in flight finish. */
  private readonly stop = (): void => {
    this.stopped = true;
    this.queue.clear();
  };

  private readonly report = (): void => {
    this.options.onProgress?.({
      sent: this.stats.sent,
      answered: this.stats.answered,
      failed: this.stats.failed,
      elapsedMs: performance.now() - this.started,
    });
  };

  private preparePackets(): void {
    const { payloadSize, verify } = this.options;
    const variants = Math.max(1, Math.min(PAYLOAD_VARIANTS, Math.floor(PAYLOAD_VARIANT_BUDGET / Math.max(1, payloadSize ?? 1))));
    const payloads = payloadSize === undefined ? [this.options.payload ?? LOAD_DEFAULTS.payload] : Array.from({ length: variants }, () => randomAscii(payloadSize));
    for (const payload of payloads) {
      this.packets.push({
        type: 0,
        srcid: this.options.srcid ?? LOAD_DEFAULTS.srcid,
        privPoliId: this.options.policy ?? LOAD_DEFAULTS.policy,
        payloadsize: payload.length,
        payload,
      });
      this.expected.push(verify === 'sha1' ? sha1Hex(payload) : undefined);
    }
  }
}

/** Throws a RangeError naming the first option out of range. */
function checkLoadOptions(options: LoadOptions): void {
  if (options.count === undefined && options.durationMs === undefined) throw new RangeError('a load needs a count or a durationMs');
  const whole: Array<[string, number | undefined, number]> = [
    ['count', options.count, 1],
    ['concurrency', options.concurrency, 1],
    ['connections', options.connections, 1],
    ['payloadSize', options.payloadSize, 0],
    ['policy', options.policy, 0],
    ['srcid', options.srcid, 0],
    ['timeoutMs', options.timeoutMs, 1],
    ['silenceMs', options.silenceMs, 0],
    ['progressIntervalMs', options.progressIntervalMs, 1],
  ];
  for (const [name, value, min] of whole) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
      throw new RangeError(`option ${name} must be a whole number of at least ${min}, got ${String(value)}`);
    }
  }
  if (options.durationMs !== undefined && !(options.durationMs > 0)) throw new RangeError(`option durationMs must be above 0, got ${options.durationMs}`);
}

/** Random letters and digits: one byte per character on the wire, nothing to escape. */
export function randomAscii(length: number): string {
  const bytes = randomBytes(length);
  // The modulo skews the letters a little; a payload only needs to vary, not be uniform.
  for (let i = 0; i < length; i++) bytes[i] = ALPHABET.charCodeAt(bytes[i]! % ALPHABET.length);
  return bytes.toString('latin1');
}
