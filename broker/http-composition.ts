/**
 * The HTTP half of a broker, composed once for both deployment shapes: the front end over a
 * policy table (with the broker's interceptors and trace), and the admin pages under its admin
 * prefix with the runtime API. In one process (broker.ts) the pages answer from this process;
 * in a --workers worker (cluster/worker.ts) they are answered by the primary, which sees the
 * whole broker: the worker relays each request (as an AdminRequest) and serves the trace's event
 * stream from its copy of the primary's trace.
 */
import type { SecureContextOptions } from 'node:tls';
import type { AdminAnswer, AdminRequest } from './admin/answer.js';
import { AdminPages, serveAdmin } from './admin/pages.js';
import { RuntimeApi, TableControl } from './admin/runtime-api.js';
import type { StatusSources } from './admin/status.js';
import type { Interceptors } from './hooks/interceptors.js';
import { HttpFrontEnd, type AdminHandler } from './http/http-front-end.js';
import type { BrokerOptions } from './options.js';
import type { Membership } from './registry/membership.js';
import type { PolicyTable } from './routing/policy-table.js';
import { isLoopbackAddress } from './support/address-list.js';
import type { Logger } from './support/logger.js';
import type { Tracer } from './trace/tracer.js';
import { TraceStream } from './trace/trace-stream.js';

/** The admin pages answered here, from `sources` (which get the front end as their `http`). */
export interface LocalAdmin {
  kind: 'local';
  sources: StatusSources;
}

/** The admin pages answered elsewhere (the --workers primary). */
export interface RelayedAdmin {
  kind: 'relayed';
  answer(request: AdminRequest): AdminAnswer | Promise<AdminAnswer>;
  /** What the dashboard's event stream shows: the primary's trace, as this process follows it. */
  trace: Tracer;
}

export interface HttpParts {
  table: PolicyTable;
  options: BrokerOptions;
  log: Logger;
  /** The trace this front end records its decisions in. */
  trace: Tracer;
  /** Certificate and key of the listener (listenerTls()); undefined: plain HTTP. */
  tls: SecureContextOptions | undefined;
  interceptors: Interceptors | undefined;
  admin: LocalAdmin | RelayedAdmin;
  /** --workers with SO_REUSEPORT: the port the primary claimed for every worker. */
  sharedPort?: number;
  /**
   * The broker's membership (one process): the runtime API's changes go through it (and the
   * registry store), and the front end's static backends join through it. Absent (a worker): the
   * front end has a membership of its own for servers.conf, and changes are applied as the primary says.
   */
  membership?: Membership;
  /** Called with the front end before it listens (the broker adds its table observers in order). */
  beforeListen?: (front: HttpFrontEnd) => void;
}

export interface HttpHalf {
  readonly front: HttpFrontEnd;
  /** Stops the admin pages' sampling and event streams (before the front end drains). */
  stopAdmin(): void;
}

/** Who may change the broker through the runtime API (docs/http.md), for whichever process answers it. */
export function apiAccess(options: BrokerOptions): { writeToken: string | undefined; loopbackOnly: boolean } {
  return {
    writeToken: options.adminToken ?? options.httpToken,
    loopbackOnly: isLoopbackAddress(options.host) && isLoopbackAddress(options.httpHost ?? options.host),
  };
}

/** Builds the HTTP front end and its admin pages, and starts listening. */
export async function startHttp(parts: HttpParts): Promise<HttpHalf> {
  const { table, options, log, trace, admin } = parts;
  let handler: AdminHandler;
  let stopAdmin: () => void;
  let pages: AdminPages | undefined;
  if (admin.kind === 'local') {
    const api = new RuntimeApi({ servers: new TableControl(table, parts.membership), log, ...apiAccess(options), reload: () => front.reloadServers() });
    const local = new AdminPages(admin.sources, trace, api);
    pages = local;
    handler = (req, res, path, authorized) => local.handle(req, res, path, authorized);
    stopAdmin = () => local.stop();
  } else {
    const stream = new TraceStream(admin.trace);
    handler = (req, res, path, authorized) => serveAdmin(req, res, path, authorized, stream, (request) => admin.answer(request));
    stopAdmin = () => stream.close();
  }
  const front: HttpFrontEnd = new HttpFrontEnd(table, options, log, handler, trace, parts.tls, parts.interceptors, parts.membership);
  if (admin.kind === 'local') admin.sources.http = front;
  try {
    parts.beforeListen?.(front);
    await front.listen(parts.sharedPort);
  } catch (err) {
    // Nobody holds this front end yet: let go of what it started (health checks, pools).
    stopAdmin();
    await front.close(0);
    throw err;
  }
  pages?.start();
  return { front, stopAdmin };
}
