/**
 * The routing trace (--trace): one structured line per routing decision (a packet's or an HTTP
 * request's outcome, with the servers that failed it on the way), logged and handed to the
 * listeners (the dashboard's event streams, or a worker's link to its primary).
 *
 * Cost: the data paths test `tracer.on` and call nothing else while it is false; only then do
 * they call rerouted() (a failed attempt) and packet()/http() (the outcome). Sampling
 * (--trace-sample) keeps a fraction of the outcomes, chosen at random each.
 */
import type { Logger } from '../support/logger.js';
import { describeDecision, serverAddress, type Decision, type Reroute, type TracedServer } from './decision.js';

export interface TraceSettings {
  on: boolean;
  /** The fraction of decisions kept, in (0, 1]. */
  sample: number;
}

export interface TraceListener {
  decision(d: Decision): void;
  /** Tracing was switched on or off, or its sampling changed. */
  state(s: TraceSettings): void;
}

/** What the packet path holds when a packet gets its outcome (its Job). */
export interface TracedPacket {
  /** The client connection; its `host` and `port` (a PeerConnection has them) are traced. */
  readonly client: { readonly closed: boolean; readonly host?: string; readonly port?: number | undefined };
  readonly srcid: number;
  readonly seq?: number | string | undefined;
  readonly policy: number;
  readonly attempts: number;
  /** performance.now() when it arrived. */
  readonly startedAt: number;
}

/** What the HTTP path tells about a request when it gets its outcome. */
export interface TracedRequest {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly policy: number;
  readonly server: TracedServer | undefined;
  readonly attempts: number;
  readonly status: number;
  readonly outcome: string;
  readonly startedAt: number;
  /** The W3C traceparent the backend was sent, if any. */
  readonly traceparent?: string | undefined;
}

/** Decisions kept for a dashboard that opens its stream now. */
const RECENT = 100;

export function checkSample(sample: unknown): sample is number {
  return typeof sample === 'number' && sample > 0 && sample <= 1;
}

export class Tracer {
  /** The one field the data paths read. */
  on: boolean;
  sample: number;
  /** Decisions recorded (after sampling) since the start. */
  recorded = 0;
  /** Decisions of HTTP workers lost on the way here (their batch to the primary was full). */
  lost = 0;
  /** The failed attempts of packets and requests not yet answered; gone with them. */
  private readonly trails = new WeakMap<object, Reroute[]>();
  private readonly recent: Decision[] = [];
  private readonly listeners = new Set<TraceListener>();
  private watched: ((watching: boolean) => void) | undefined;

  constructor(
    /** Where each decision is logged (info); undefined: not logged here (an HTTP worker forwards them). */
    private readonly log: Logger | undefined,
    settings: TraceSettings,
    private readonly random: () => number = Math.random,
  ) {
    this.on = settings.on;
    this.sample = settings.sample;
  }

  settings(): TraceSettings {
    return { on: this.on, sample: this.sample };
  }

  /** Switches tracing on or off and sets the sampling; tells the listeners. */
  set(change: Partial<TraceSettings>): TraceSettings {
    if (change.sample !== undefined && !checkSample(change.sample)) throw new RangeError(`sample must be in (0, 1], got ${String(change.sample)}`);
    if (change.on !== undefined) this.on = change.on;
    if (change.sample !== undefined) this.sample = change.sample;
    const now = this.settings();
    for (const l of this.listeners) l.state(now);
    return now;
  }

  /** Listens until the returned function is called. */
  listen(listener: TraceListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.watched?.(true);
    return () => {
      if (this.listeners.delete(listener) && this.listeners.size === 0) this.watched?.(false);
    };
  }

  /**
   * Calls `watched` when the first listener comes (true) and the last goes (false): a --workers
   * worker's copy of its primary's trace asks for the decisions only while a dashboard watches.
   */
  whenWatched(watched: (watching: boolean) => void): void {
    this.watched = watched;
  }

  /** Adds the decisions another process recorded (a --workers batch); `lost`: those it could not send. */
  merge(decisions: readonly Decision[], lost = 0): void {
    for (const d of decisions) this.publish(d);
    this.lost += lost;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** The last decisions recorded, oldest first. */
  recentDecisions(): Decision[] {
    return this.recent.slice();
  }

  /** An attempt of `subject` (a packet's job, an HTTP exchange) on `server` failed, for `reason`. */
  rerouted(subject: object, server: TracedServer, reason: string): void {
    const entry: Reroute = { server: server.id ?? null, address: serverAddress(server), reason };
    const trail = this.trails.get(subject);
    if (trail === undefined) this.trails.set(subject, [entry]);
    else trail.push(entry);
  }

  /** A packet got its outcome: `reply` from `server`, or an error code. */
  packet(job: TracedPacket, server: TracedServer | undefined, outcome: string): void {
    const reroutes = this.take(job);
    if (reroutes === undefined) return;
    const last = server === undefined ? reroutes[reroutes.length - 1] : undefined;
    this.publish({
      kind: 'packet',
      at: Date.now(),
      client: job.client.host ?? '',
      clientPort: job.client.port ?? null,
      srcid: job.srcid,
      seq: job.seq ?? null,
      policy: job.policy,
      server: server === undefined ? (last?.server ?? null) : (server.id ?? null),
      address: server === undefined ? (last?.address ?? null) : serverAddress(server),
      attempt: job.attempts,
      reroutes,
      outcome,
      ms: sinceMs(job.startedAt),
      decidedAt: epochMs(job.startedAt),
    });
  }

  /** An HTTP request got its outcome. `subject` is what rerouted() was given for it. */
  http(subject: object, r: TracedRequest): void {
    const reroutes = this.take(subject);
    if (reroutes === undefined) return;
    this.publish({
      kind: 'http',
      at: Date.now(),
      requestId: r.requestId,
      method: r.method,
      path: r.path,
      policy: r.policy,
      server: r.server?.id ?? null,
      address: r.server === undefined ? null : serverAddress(r.server),
      attempt: r.attempts,
      reroutes,
      status: r.status,
      outcome: r.outcome,
      ms: sinceMs(r.startedAt),
      decidedAt: epochMs(r.startedAt),
      ...(r.traceparent !== undefined && { traceparent: r.traceparent }),
    });
  }

  /** Records a decision made here or forwarded by a worker: logs it, keeps it, tells the listeners. */
  publish(d: Decision): void {
    this.recorded++;
    this.log?.info(describeDecision(d), { decision: d });
    this.recent.push(d);
    if (this.recent.length > RECENT) this.recent.shift();
    for (const l of this.listeners) l.decision(d);
  }

  /** The subject's failed attempts, or undefined when sampling leaves this decision out. */
  private take(subject: object): Reroute[] | undefined {
    const trail = this.trails.get(subject);
    if (trail !== undefined) this.trails.delete(subject);
    if (this.sample < 1 && this.random() >= this.sample) return undefined;
    return trail ?? [];
  }
}

/** A performance.now() time as ms since the epoch, to the microsecond. */
function epochMs(monotonic: number): number {
  return Math.round((performance.timeOrigin + monotonic) * 1000) / 1000;
}

function sinceMs(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 1000) / 1000;
}
