/**
 * The connections to one HTTP backend: undici Clients, one connection each and one request at
 * a time, at most `connections` of them. A request takes an idle client from a stack in O(1)
 * (a new one while under the limit); past the limit it waits, in arrival order, for the first
 * client that comes free. A client is free again when undici says so: its dispatch returned
 * false (busy), and it emits 'drain' once the request is over, however it ended.
 *
 * Why not undici's Pool, which does the same: its bookkeeping per request (looking for a
 * client that does not need draining, re-dispatching from its queue, a 'drain' event of its own
 * with a fresh array of targets) cost a few µs per request at the proxy's load: 2–4 µs of
 * ~50–70 in an A/B (step "HTTP 2" in docs/benchmarks.md), within that run's noise; a bare
 * node:http proxy measured 6 µs. undici still does all the HTTP.
 */
import { Client, errors, type Dispatcher } from 'undici';

/** What the HTTP front end needs of a backend's connections. */
export interface Upstream {
  /** Sends a request; the handler hears how it went. Returns false when it had to wait. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  /** Lets the requests taken finish, then closes every connection. */
  close(): Promise<void>;
  /** Fails the waiting requests and closes every connection now. */
  destroy(): Promise<void>;
}

export type ClientPoolOptions = Omit<Client.Options, 'pipelining'> & {
  /** The most connections (clients) to the backend. */
  connections: number;
};

interface Waiting {
  options: Dispatcher.DispatchOptions;
  handler: Dispatcher.DispatchHandler;
}

export class ClientPool implements Upstream {
  private readonly clients: Client[] = [];
  private readonly idle: Client[] = [];
  private waiting: Waiting[] = [];
  private waitingHead = 0;
  private readonly clientOptions: Client.Options;
  private readonly maxClients: number;
  /** Set by close(): no new requests; resolved once the waiting ones are on a client. */
  private closing: { done: Promise<void>; resolve: () => void } | undefined;
  private destroyed = false;

  constructor(
    private readonly origin: string,
    options: ClientPoolOptions,
  ) {
    const { connections, ...clientOptions } = options;
    this.maxClients = connections;
    this.clientOptions = { ...clientOptions, pipelining: 1 };
  }

  /** Connections open or being opened. */
  get size(): number {
    return this.clients.length;
  }

  /** Requests waiting for a free connection. */
  get pending(): number {
    return this.waiting.length - this.waitingHead;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closing !== undefined || this.destroyed) {
      handler.onError?.(this.destroyed ? new errors.ClientDestroyedError() : new errors.ClientClosedError());
      return false;
    }
    const client = this.idle.pop() ?? this.grow();
    if (client === undefined) {
      this.waiting.push({ options, handler });
      return false;
    }
    this.send(client, options, handler);
    return true;
  }

  close(): Promise<void> {
    if (this.closing === undefined) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.closing = { done, resolve };
      if (this.pending === 0) resolve();
    }
    return this.closing.done.then(() => this.each((client) => client.close()));
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    const waiting = this.waiting.slice(this.waitingHead);
    this.waiting = [];
    this.waitingHead = 0;
    this.closing?.resolve();
    for (const { handler } of waiting) handler.onError?.(new errors.ClientDestroyedError());
    return this.each((client) => client.destroy());
  }

  private grow(): Client | undefined {
    if (this.clients.length >= this.maxClients) return undefined;
    const client = new Client(this.origin, this.clientOptions);
    // One listener per connection, not per request.
    client.on('drain', () => this.freed(client));
    this.clients.push(client);
    return client;
  }

  private send(client: Client, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    // True means the client can take another request at once; with one at a time it cannot,
    // and it says 'drain' when it can.
    if (client.dispatch(options, handler)) this.idle.push(client);
  }

  /** A client finished its request: it takes the next waiting one, or goes back to the stack. */
  private freed(client: Client): void {
    if (this.destroyed) return;
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as Waiting;
      if (this.waitingHead === this.waiting.length) {
        this.waiting = [];
        this.waitingHead = 0;
        this.closing?.resolve();
      } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        // Compact once the taken prefix dominates, so taking stays O(1) amortised.
        this.waiting = this.waiting.slice(this.waitingHead);
        this.waitingHead = 0;
      }
      this.send(client, next.options, next.handler);
      return;
    }
    this.idle.push(client);
  }

  private async each(action: (client: Client) => Promise<void>): Promise<void> {
    await Promise.all(this.clients.map((client) => action(client).catch(() => undefined)));
  }
}
