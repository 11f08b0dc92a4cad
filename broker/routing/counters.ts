/**
 * The counters of one protocol (packets or HTTP), the same set for both: what came in, how it
 * was answered (per policy, per server, per outcome code), what was re-routed. Read by status,
 * metrics and the dashboard. Plain fields: they are bumped per packet or request.
 *
 * Per-policy counters exist for every policy that ever had a server of the protocol (the
 * counters observe the policy table); errors for other policies are counted under
 * `unregistered`, so that random policy numbers cannot grow the table.
 */
import { LatencyHistogram } from '../support/latency-histogram.js';
import { RecentErrors } from '../support/recent-errors.js';
import type { Member, Protocol } from './member.js';
import type { TableObserver } from './policy-table.js';

/** The counters of one policy. */
export class PolicyCounters {
  /** Answers relayed from servers. */
  replied = 0;
  /** Jobs of this policy sent to another server after the one they were on failed. */
  rerouted = 0;
  /** Answers the broker gave itself for this policy, by code. */
  readonly errors: Partial<Record<string, number>> = {};
  /** Time from arrival to the end of the relayed answer. */
  readonly latency = new LatencyHistogram();
  /** Answers relayed by server (id, or address of a static backend) and status; HTTP only. */
  readonly byServer = new Map<string, Map<number, number>>();

  /** The policy; -1 for the errors of policies that never had a server. */
  constructor(readonly policy: number) {}
}

/** What a server had served and failed when it left (or registered again). */
export interface RetiredServer {
  readonly policy: number;
  readonly id: number;
  served: number;
  failures: number;
}

export class Counters implements TableObserver {
  /** Packets or requests received. */
  received = 0;
  /** Answers relayed from servers. */
  replied = 0;
  /** Sent to another server after one failed. */
  rerouted = 0;
  /** Answers not delivered because the client had gone. */
  dropped = 0;
  /** Answers cut short because the server failed after the head was relayed (HTTP). */
  truncated = 0;
  /** Answers the broker gave itself, by code. */
  readonly errors: Partial<Record<string, number>> = {};
  /** The last error answers, for the dashboard. */
  readonly recentErrors = new RecentErrors();
  /** Errors for policies that never had a server. */
  readonly unregistered = new PolicyCounters(-1);
  private readonly byPolicy = new Map<number, PolicyCounters>();
  private readonly retired = new Map<string, RetiredServer>();

  constructor(readonly protocol: Protocol) {}

  /** Counts an error answer; with the policy when it is known (routing errors). */
  countError(code: string, policy?: number, message = ''): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (policy !== undefined) {
      const p = this.byPolicy.get(policy) ?? this.unregistered;
      p.errors[code] = (p.errors[code] ?? 0) + 1;
    }
    this.recentErrors.add(code, policy, message);
  }

  /** Counts an answer relayed for `policy`, which arrived at `startedAt` (performance.now()). */
  countAnswer(policy: number, startedAt: number): PolicyCounters {
    this.replied++;
    const p = this.byPolicy.get(policy) ?? this.policy(policy);
    p.replied++;
    p.latency.observe(performance.now() - startedAt);
    return p;
  }

  /** Counts an HTTP response of `status` relayed from `server` for `policy`. */
  countResponse(policy: number, server: string, status: number, startedAt: number): void {
    const p = this.countAnswer(policy, startedAt);
    let statuses = p.byServer.get(server);
    if (statuses === undefined) {
      statuses = new Map();
      p.byServer.set(server, statuses);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }

  /** Counts a job of `policy` sent to another server. */
  countReroute(policy: number): void {
    this.rerouted++;
    (this.byPolicy.get(policy) ?? this.unregistered).rerouted++;
  }

  /** The counters of one policy, created on first use. */
  policy(policy: number): PolicyCounters {
    let p = this.byPolicy.get(policy);
    if (p === undefined) {
      p = new PolicyCounters(policy);
      this.byPolicy.set(policy, p);
    }
    return p;
  }

  /** Every policy that ever had a server. */
  policies(): IterableIterator<PolicyCounters> {
    return this.byPolicy.values();
  }

  /** Totals of registered servers that are gone, by policy and id. */
  retiredServers(): IterableIterator<RetiredServer> {
    return this.retired.values();
  }

  // TableObserver: a policy's counters start with its first server of the protocol, and a
  // registered server's counts outlive its membership.

  added(member: Member): void {
    if (member.endpoint(this.protocol) !== undefined) this.policy(member.policy);
  }

  removed(member: Member): void {
    const endpoint = member.endpoint(this.protocol);
    if (endpoint === undefined || member.id === undefined) return;
    const key = `${member.policy}/${member.id}`;
    let totals = this.retired.get(key);
    if (totals === undefined) {
      totals = { policy: member.policy, id: member.id, served: 0, failures: 0 };
      this.retired.set(key, totals);
    }
    totals.served += endpoint.served;
    totals.failures += endpoint.failures;
  }
}
