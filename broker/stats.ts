import type { ErrorCode } from './protocol/error-codes.js';
import type { Member } from './routing/member.js';
import type { TableObserver } from './routing/policy-table.js';
import { LatencyHistogram } from './support/latency-histogram.js';
import { RecentErrors } from './support/recent-errors.js';

/** The packet counters of one policy. Plain fields, bumped per packet. */
export class PolicyPacketStats {
  /** Replies delivered to clients. */
  replied = 0;
  /** Jobs of this policy sent to another server after the one they were on failed. */
  rerouted = 0;
  /** Error packets sent for packets of this policy, by code. */
  readonly errors: Partial<Record<ErrorCode, number>> = {};
  /** Time from accepting a packet to delivering its reply. */
  readonly latency = new LatencyHistogram();

  /** The policy; -1 for the packets of policies that never had a server. */
  constructor(readonly policy: number) {}
}

/** What a server had served and failed when its record went away (it left or registered again). */
export interface RetiredServer {
  readonly policy: number;
  readonly id: number;
  served: number;
  failures: number;
}

/**
 * Counters of the packet path, read by status and metrics. Plain fields: they are bumped per
 * packet. Per-policy counters exist for every policy that ever had a server (PacketStats
 * observes the policy table); packets of other policies are counted under `unregistered`, so that
 * random policy numbers cannot grow the table.
 */
export class PacketStats implements TableObserver {
  /** Client packets accepted for routing. */
  received = 0;
  /** Replies from servers delivered to clients. */
  replied = 0;
  /** Jobs sent to another server after the one they were on failed. */
  rerouted = 0;
  /** Answers not delivered because the client had gone. */
  dropped = 0;
  /** Error packets sent, by code. */
  readonly errors: Partial<Record<ErrorCode, number>> = {};
  /** Error packets for policies that never had a server. */
  readonly unregistered = new PolicyPacketStats(-1);
  /** The last error answers, for the dashboard. */
  readonly recentErrors = new RecentErrors();
  private readonly byPolicy = new Map<number, PolicyPacketStats>();
  private readonly retired = new Map<string, RetiredServer>();

  /** Counts an error packet; with the packet's policy when it is known (routing errors). */
  countError(code: ErrorCode, policy?: number, message = ''): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (policy !== undefined) {
      const p = this.byPolicy.get(policy) ?? this.unregistered;
      p.errors[code] = (p.errors[code] ?? 0) + 1;
    }
    this.recentErrors.add(code, policy, message);
  }

  /** Counts a reply delivered for a packet of `policy` accepted at `startedAt` (performance.now()). */
  countReply(policy: number, startedAt: number): void {
    this.replied++;
    const p = this.byPolicy.get(policy) ?? this.policy(policy);
    p.replied++;
    p.latency.observe(performance.now() - startedAt);
  }

  /** Counts a job of `policy` sent to another server. */
  countReroute(policy: number): void {
    this.rerouted++;
    (this.byPolicy.get(policy) ?? this.unregistered).rerouted++;
  }

  /** The counters of one policy, created on first use. */
  policy(policy: number): PolicyPacketStats {
    let p = this.byPolicy.get(policy);
    if (p === undefined) {
      p = new PolicyPacketStats(policy);
      this.byPolicy.set(policy, p);
    }
    return p;
  }

  /** Every policy that ever had a server. */
  policies(): IterableIterator<PolicyPacketStats> {
    return this.byPolicy.values();
  }

  /** Totals of server records that are gone, by policy and id. */
  retiredServers(): IterableIterator<RetiredServer> {
    return this.retired.values();
  }

  // TableObserver: per-policy counters start with a policy's first packet server, and a
  // server's counts outlive its membership.

  added(member: Member): void {
    if (member.packets !== undefined) this.policy(member.policy);
  }

  removed(member: Member): void {
    const endpoint = member.packets;
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
