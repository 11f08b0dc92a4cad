/**
 * The trace as server-sent events (<admin prefix>trace/events), for the dashboard's "recent
 * decisions" panel: `state` events (on/off, sampling), `decision` events (decision.ts) and
 * `dropped` events. Bounded: at most maxClients streams at once, and a client that reads slower
 * than decisions come gets at most maxQueued events held for it; the rest are dropped for that
 * client alone and counted (it is told how many once it catches up). A stream may ask for the
 * decisions of one policy or one server only (DecisionFilter).
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
  maxQueued: 500,
  /** A comment line this often keeps idle streams open (--http-socket-timeout, proxies). */
  keepAliveMs: 15_000,
};

class StreamClient {
  private readonly queue: string[] = [];
  private blocked = false;
  /** Dropped since it was last told. */
  private unreported = 0;

  constructor(
    readonly res: ServerResponse,
    private readonly stream: TraceStream,
    /** Undefined: every decision. */
    readonly filter: DecisionFilter | undefined,
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
    if (!this.res.write(event)) this.blocked = true;
  }

  private flush(): void {
    this.blocked = false;
    while (this.queue.length > 0 && !this.blocked) this.blocked = !this.res.write(this.queue.shift()!);
    if (!this.blocked && this.unreported > 0) {
      this.blocked = !this.res.write(sse('dropped', { dropped: this.unreported }));
      this.unreported = 0;
    }
  }
}

export class TraceStream {
  /** Events dropped for slow clients since the start. */
  dropped = 0;
  readonly maxClients: number;
  readonly maxQueued: number;
  private readonly keepAliveMs: number;
  private readonly clients = new Set<StreamClient>();
  private unlisten: (() => void) | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: TraceSource,
    limits: Partial<typeof TRACE_STREAM_DEFAULTS> = {},
  ) {
    const l = { ...TRACE_STREAM_DEFAULTS, ...limits };
    this.maxClients = l.maxClients;
    this.maxQueued = l.maxQueued;
    this.keepAliveMs = l.keepAliveMs;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Streams to `res` until it closes; false (nothing written) when maxClients streams are open. */
  open(res: ServerResponse, filter?: DecisionFilter): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Tells nginx in front not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    const client = new StreamClient(res, this, filter);
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
      this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), this.keepAliveMs);
      this.keepAlive.unref();
    }
    return true;
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
