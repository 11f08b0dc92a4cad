/**
 * The trace as server-sent events (<admin prefix>trace/events), for the dashboard's "recent
 * decisions" panel: `state` events (on/off, sampling), `decision` events (decision.ts) and
 * `dropped` events. Bounded: at most maxClients streams at once and maxPerAddress from one
 * peer address, so one peer that opens streams and never reads them cannot take every slot;
 * a stream whose writes have been stalled (its client does not read) for stallMs is ended, and
 * its slot is free. A client that reads slower than decisions come gets at most maxQueued
 * events held for it; the rest are dropped for that client alone and counted (it is told how
 * many once it catches up). A stream may ask for the decisions of one policy or one server only
 * (DecisionFilter).
 */
import type { ServerResponse } from 'node:http';
import type { Decision } from './decision.js';
import type { TraceListener, TraceSettings } from './tracer.js';

/** Where the stream's events come from: the Tracer, or in an HTTP worker its primary's feed. */
export interface TraceSource {
  listen(listener: TraceListener): () => void;
  recentDecisions(): Decision[];
  settings(): TraceSettings;
}

/** The decisions one stream wants: of this policy, of this server (its id, or a static backend's address). */
export interface DecisionFilter {
  policy?: number;
  server?: string;
}

export function matchesFilter(d: Decision, filter: DecisionFilter): boolean {
  if (filter.policy !== undefined && d.policy !== filter.policy) return false;
  return filter.server === undefined || (d.server === null ? d.address === filter.server : String(d.server) === filter.server);
}

export const TRACE_STREAM_DEFAULTS = {
  maxClients: 8,
  /** Streams one peer address may hold at once (a dashboard needs one). */
  maxPerAddress: 2,
  maxQueued: 500,
  /** A comment line this often keeps idle streams open (--http-socket-timeout, proxies). */
  keepAliveMs: 15_000,
  /** A stream whose writes have waited this long for its client to read is ended. */
  stallMs: 30_000,
  now: Date.now as () => number,
};

/** Why open() refused a stream. */
export type StreamRefusal = 'full' | 'address';

class StreamClient {
  private readonly queue: string[] = [];
  private blocked = false;
  /** When the writes began to wait for the client (blocked). */
  blockedSince = 0;
  /** Dropped since it was last told. */
  private unreported = 0;

  constructor(
    readonly res: ServerResponse,
    private readonly stream: TraceStream,
    /** Undefined: every decision. */
    readonly filter: DecisionFilter | undefined,
    readonly address: string,
  ) {
    res.on('drain', () => this.flush());
  }

  /** Sends a decision (`event`, made once for all clients) when it passes this client's filter. */
  decision(d: Decision, event: string): void {
    if (this.filter === undefined || matchesFilter(d, this.filter)) this.send(event);
  }

  send(event: string): void {
    if (this.blocked) {
      if (this.queue.length < this.stream.maxQueued) this.queue.push(event);
      else {
        this.unreported++;
        this.stream.dropped++;
      }
      return;
    }
    if (!this.res.write(event)) this.block();
  }

  /** True when its writes have waited for the client since before `since`. */
  stalledSince(since: number): boolean {
    return this.blocked && this.blockedSince <= since;
  }

  private block(): void {
    this.blocked = true;
    this.blockedSince = this.stream.now();
  }

  private flush(): void {
    this.blocked = false;
    while (this.queue.length > 0 && !this.blocked) if (!this.res.write(this.queue.shift()!)) this.block();
    if (!this.blocked && this.unreported > 0) {
      if (!this.res.write(sse('dropped', { dropped: this.unreported }))) this.block();
      this.unreported = 0;
    }
  }
}

export class TraceStream {
  /** Events dropped for slow clients since the start. */
  dropped = 0;
  /** Streams ended because their client stopped reading. */
  evicted = 0;
  readonly maxClients: number;
  readonly maxPerAddress: number;
  readonly maxQueued: number;
  readonly now: () => number;
  private readonly keepAliveMs: number;
  private readonly stallMs: number;
  private readonly clients = new Set<StreamClient>();
  private unlisten: (() => void) | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: TraceSource,
    limits: Partial<typeof TRACE_STREAM_DEFAULTS> = {},
  ) {
    const l = { ...TRACE_STREAM_DEFAULTS, ...limits };
    this.maxClients = l.maxClients;
    this.maxPerAddress = l.maxPerAddress;
    this.maxQueued = l.maxQueued;
    this.keepAliveMs = l.keepAliveMs;
    this.stallMs = l.stallMs;
    this.now = l.now;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Streams to `res` (of a peer at `address`) until it closes; when maxClients streams are open
   * (after ending the stalled ones) or maxPerAddress from `address`, writes nothing and says why.
   */
  open(res: ServerResponse, filter: DecisionFilter | undefined, address: string): StreamRefusal | undefined {
    this.evictStalled();
    if (this.clients.size >= this.maxClients) return 'full';
    let fromAddress = 0;
    for (const c of this.clients) if (c.address === address) fromAddress++;
    if (fromAddress >= this.maxPerAddress) return 'address';
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Tells nginx in front not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    const client = new StreamClient(res, this, filter, address);
    this.clients.add(client);
    res.once('close', () => this.remove(client));
    client.send(sse('state', this.state()));
    for (const d of this.source.recentDecisions()) client.decision(d, sse('decision', d));
    if (this.unlisten === undefined) {
      this.unlisten = this.source.listen({
        decision: (d) => {
          const event = sse('decision', d);
          for (const c of this.clients) c.decision(d, event);
        },
        state: () => this.broadcast(sse('state', this.state())),
      });
      this.keepAlive = setInterval(() => {
        this.evictStalled();
        this.broadcast(': keep-alive\n\n');
      }, this.keepAliveMs);
      this.keepAlive.unref();
    }
    return undefined;
  }

  /** Ends the streams whose client has not read for stallMs (their writes wait). */
  evictStalled(): void {
    const before = this.now() - this.stallMs;
    for (const client of [...this.clients]) {
      if (!client.stalledSince(before)) continue;
      this.evicted++;
      this.remove(client);
      client.res.destroy();
    }
  }

  /** Ends every stream (the broker is stopping). */
  close(): void {
    for (const client of [...this.clients]) client.res.end();
    this.clients.clear();
    this.stopListening();
  }

  private state(): TraceSettings & { dropped: number } {
    return { ...this.source.settings(), dropped: this.dropped };
  }

  private broadcast(event: string): void {
    for (const client of this.clients) client.send(event);
  }

  private remove(client: StreamClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stopListening();
  }

  private stopListening(): void {
    this.unlisten?.();
    this.unlisten = undefined;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}

/** One server-sent event. JSON has no raw newlines, so `data` is one line. */
export function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
