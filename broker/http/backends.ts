/**
 * The HTTP side of the policy table: a connection pool per HTTP endpoint (upstream.ts), the
 * health checks, the servers.conf backends this front end adds to the table, and what the log
 * says of them. Registered servers with an `httpport` are in the table already.
 */
import type { BrokerOptions } from '../options.js';
import { Member, type Endpoint, type MemberState } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { Logger } from '../support/logger.js';
import { HealthMonitor } from './health.js';
import { Upstreams } from './upstream.js';

/** The most response bytes a backend may send in its head. */
const UPSTREAM_MAX_HEADER_BYTES = 64 * 1024;

export class Backends implements TableObserver {
  readonly upstreams: Upstreams;
  readonly health: HealthMonitor;
  /** The servers.conf backends, members of the table while this front end runs. */
  private readonly statics: Member[];

  constructor(
    private readonly table: PolicyTable,
    options: BrokerOptions,
    /** Sent to backends (and their health checks) as Authorization, if any. */
    authorization: string | undefined,
    /** Also told of every member, now and as the table changes (the front end's counters). */
    counters: TableObserver,
    private readonly log: Logger,
  ) {
    this.upstreams = new Upstreams({
      connections: options.upstreamConnections,
      headersTimeout: options.upstreamTimeoutMs,
      bodyTimeout: options.upstreamTimeoutMs,
      connect: { timeout: options.upstreamConnectTimeoutMs },
      strictContentLength: true,
      maxHeaderSize: UPSTREAM_MAX_HEADER_BYTES,
    });
    const o = options;
    const health = { path: o.healthPath, intervalMs: o.healthIntervalMs, timeoutMs: o.healthTimeoutMs, rise: o.healthRise, fall: o.healthFall, maxFails: o.maxFails, failTimeoutMs: o.failTimeoutMs, authorization };
    this.health = new HealthMonitor(table, health, log);
    for (const observer of [this.upstreams, counters, this.health, this] as TableObserver[]) {
      for (const member of table.members()) observer.added?.(member);
      table.observe(observer);
    }
    this.statics = options.httpServers.map((entry) => {
      const info = { id: undefined, policy: entry.policy ?? options.httpPolicy, host: entry.host, packetPort: undefined, httpPort: entry.port };
      const member = new Member({ ...info, maxInflight: 1, session: false, tls: false, registeredAt: Date.now(), generation: 0, weight: entry.weight ?? 1 });
      table.add(member);
      return member;
    });
  }

  /** Stops the health checks, fails what waits on the pools, and takes the static backends out. */
  async close(): Promise<void> {
    await this.upstreams.destroyAll();
    for (const member of this.statics) this.table.remove(member);
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
