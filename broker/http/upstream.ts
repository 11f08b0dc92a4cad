/**
 * The connections to each HTTP backend: an undici Pool of at most `connections` connections,
 * one request at a time on each (no pipelining to backends: a slow answer must not hold the
 * requests queued behind it). Past the limit a request waits in the pool's queue, in arrival
 * order, for the first connection that comes free.
 *
 * undici's Pool replaced a hand-written pool of Clients (step "Tidy 2" in
 * docs/benchmarks.md): the hand-written one's gain was within the noise of its own A/B.
 */
import { Pool, type Dispatcher } from 'undici';
import type { Endpoint, Member } from '../routing/member.js';
import type { TableObserver } from '../routing/policy-table.js';
import type { BackendTls } from './backend-tls.js';

/** What the HTTP front end needs of a backend's connections. */
export interface Upstream {
  /** Sends a request; the handler hears how it went. Returns false when it had to wait. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  /** Lets the requests taken finish, then closes every connection. */
  close(): Promise<void>;
  /** Fails the waiting requests and closes every connection now. */
  destroy(): Promise<void>;
}

export type UpstreamOptions = Omit<Pool.Options, 'pipelining' | 'connections'> & {
  /** The most connections to the backend. */
  connections: number;
};

/** A backend's connection pool. */
export function createUpstream(origin: string, options: UpstreamOptions): Pool {
  return new Pool(origin, { ...options, pipelining: 1 });
}

/** The pool of each HTTP endpoint in the table: opened as it joins, closed as it leaves. */
export class Upstreams implements TableObserver {
  private readonly pools = new Map<Endpoint, Upstream>();

  constructor(
    private readonly options: UpstreamOptions,
    /** HTTP or HTTPS, per endpoint (backend-tls.ts). */
    private readonly tls: BackendTls,
    /** Time to connect (to an HTTPS backend: and to finish the handshake). */
    private readonly connectTimeoutMs: number,
  ) {}

  /** The pool of an endpoint in the table. */
  get(endpoint: Endpoint): Upstream {
    return this.pools.get(endpoint)!;
  }

  added(member: Member): void {
    if (member.http !== undefined) {
      const connect = this.tls.connect(member.http, this.connectTimeoutMs);
      this.pools.set(member.http, createUpstream(this.tls.origin(member.http), { ...this.options, connect }));
    }
  }

  removed(member: Member): void {
    const pool = member.http === undefined ? undefined : this.pools.get(member.http);
    if (pool === undefined) return;
    this.pools.delete(member.http!);
    // Requests in flight on it finish (or fail and are retried); then its connections close.
    pool.close().catch(() => undefined);
  }

  /** Fails what waits and closes every connection (shutdown). */
  async destroyAll(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }
}
