/**
 * The HTTP side of the policy table: a connection pool per HTTP endpoint (upstream.ts), the
 * health checks, the servers.conf backends this front end adds to the table, and what the log
 * says of them. Registered servers with an `httpport` are in the table already.
 */
import type { BrokerOptions } from '../options.js';
import type { Endpoint, Member, MemberState } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { Membership } from '../registry/membership.js';
import type { Logger } from '../support/logger.js';
import { BackendTls } from './backend-tls.js';
import { HealthMonitor } from './health.js';
import { StaticBackends } from './static-backends.js';
import { Upstreams } from './upstream.js';

/** The most response bytes a backend may send in its head. */
const UPSTREAM_MAX_HEADER_BYTES = 64 * 1024;

export class Backends implements TableObserver {
  readonly upstreams: Upstreams;
  readonly health: HealthMonitor;
  /** The servers.conf backends, members of the table while this front end runs. */
  readonly statics: StaticBackends;
  /**
   * What must hear of the table's changes, in this order: the pools (a new member gets its pool
   * before anything can pick it), the counters, the health checks, the log.
   */
  readonly tableObservers: readonly TableObserver[];

  constructor(
    table: PolicyTable,
    options: BrokerOptions,
    /** Sent to backends (and their health checks) as Authorization, if any. */
    authorization: string | undefined,
    /** The front end's counters, among the table observers. */
    counters: TableObserver,
    private readonly log: Logger,
    /** The table's one writer of members: the static backends are a source it applies. */
    membership: Membership,
    /** Given (a --workers worker): the observers are added to it now; else the composition root adds them. */
    observeNow?: PolicyTable,
  ) {
    const tls = new BackendTls(options.backendCa);
    this.upstreams = new Upstreams({
      connections: options.upstreamConnections,
      headersTimeout: options.upstreamTimeoutMs,
      bodyTimeout: options.upstreamTimeoutMs,
      strictContentLength: true,
      maxHeaderSize: UPSTREAM_MAX_HEADER_BYTES,
    }, tls, options.upstreamConnectTimeoutMs);
    const o = options;
    const health = { path: o.healthPath, intervalMs: o.healthIntervalMs, timeoutMs: o.healthTimeoutMs, rise: o.healthRise, fall: o.healthFall, maxFails: o.maxFails, failTimeoutMs: o.failTimeoutMs, authorization };
    this.health = new HealthMonitor(table, health, log, tls);
    this.tableObservers = [this.upstreams, counters, this.health, this];
    observeNow?.observeInOrder(this.tableObservers);
    this.statics = new StaticBackends(membership, options.httpPolicy, log);
    this.statics.apply(options.httpServers);
  }

  /** Stops the health checks, fails what waits on the pools, and takes the static backends out. */
  async close(): Promise<void> {
    await this.upstreams.destroyAll();
    this.statics.close();
  }

  // TableObserver: what the log says of the HTTP backends.

  removed(member: Member): void {
    if (member.http !== undefined) this.log.debug('HTTP server removed', { id: member.id, policy: member.policy, address: member.http.address });
  }

  stateChanged(backend: Endpoint, from: MemberState): void {
    if (backend.protocol !== 'http') return;
    const fields = { id: backend.id, policy: backend.policy, address: backend.address, source: backend.source };
    if (backend.state === 'down') this.log.warn('HTTP server down', { ...fields, reason: backend.lastError });
    else if (from === 'down') this.log.info('HTTP server up again', fields);
    else this.log.debug('HTTP server state', { ...fields, from, to: backend.state });
  }
}
