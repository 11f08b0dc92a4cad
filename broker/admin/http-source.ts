/**
 * What the admin pages (status, metrics, activity) read of the HTTP front end. In one process
 * that is the HttpFrontEnd itself; with --workers it is the primary's merged view of its
 * workers (merged-http.ts). Read-only shapes: the pages never change what they read.
 */
import type { AddressInfo } from 'node:net';
import type { HttpBackendView } from '../http/backend-view.js';
import type { ReloadCounts } from '../http/static-backends.js';
import type { Counters } from '../routing/counters.js';
import type { HookCounts } from '../hooks/counters.js';
import type { UpgradeFigures } from '../http/upgrade-counters.js';

export type { HttpBackendView } from '../http/backend-view.js';

/** One worker process of --workers, as the status page lists it. */
export interface WorkerStatus {
  /** cluster's worker id (a re-forked worker gets a new one). */
  id: number;
  pid: number;
  /** True once its HTTP listener is up. */
  listening: boolean;
  connections: number;
  inflight: number;
  requests: number;
  /** Responses relayed from backends (requests without the admin pages and the broker's own errors). */
  proxied: number;
  /** HTTP backends in its table (all workers follow the same registry and servers file). */
  backends: number;
  /** Resident memory in bytes, at its last report. */
  rss: number;
}

export interface HttpSource {
  readonly stats: Counters;
  backends(): Iterable<HttpBackendView>;
  /** Open client connections. */
  readonly connectionCount: number;
  /** Requests being proxied now. */
  readonly inflight: number;
  address(): AddressInfo | undefined;
  /** Upgrade requests and the tunnels (WebSockets) open now. */
  upgradeFigures(): UpgradeFigures;
  /** The worker processes with --workers; absent in a single process. */
  workers?(): WorkerStatus[];
  /** Reloads of servers.conf so far; absent with --workers (each worker reloads its own). */
  readonly reloads?: ReloadCounts;
  /** With --workers, the workers' interceptor counters added up; absent in a single process. */
  hookCounts?(): Record<string, HookCounts>;
}
