import type { ErrorCode } from './protocol/error-codes.js';
import type { RegistryObserver } from './registry/registry.js';
import type { ServerRecord } from './registry/server-record.js';
import { BoundedTable } from './support/bounded-table.js';
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

  /** The policy; -1 for the packets of policies that never had a server, FORGOTTEN_POLICY for forgotten ones. */
  constructor(readonly policy: number) {}
}

/** The policy number of the counters of policies forgotten (gone, and past the cap). */
export const FORGOTTEN_POLICY = -2;
/**
 * Counters kept for policies (and servers) that are gone, at most: beyond this the oldest gone
 * ones are summed into one "forgotten" entry, so that registrations of ever new policies and
 * ids cannot grow the broker's memory, status page and metrics without bound.
 */
export const MAX_GONE_KEPT = 200;

/** Adds one policy's counters into another's. */
export function foldPolicyCounters<P extends { replied: number; errors: Partial<Record<string, number>>; latency: LatencyHistogram }>(into: P, from: P): void {
  into.replied += from.replied;
  for (const [code, n] of Object.entries(from.errors)) into.errors[code] = (into.errors[code] ?? 0) + (n ?? 0);
  into.latency.merge(from.latency);
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
 * packet. Per-policy counters exist for every policy that has or had a server (PacketStats
 * observes the registry); packets of other policies are counted under `unregistered`, so that
 * random policy numbers cannot grow the table. Those of policies whose servers are all gone, and
 * the totals of servers that left, are kept up to MAX_GONE_KEPT beyond the live ones; older ones
 * are summed under FORGOTTEN_POLICY.
 */
export class PacketStats implements RegistryObserver {
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
  /** Registered servers per policy, and the policy/id keys of registered servers. */
  private readonly liveServers = new Map<number, number>();
  private readonly liveKeys = new Set<string>();
  private readonly byPolicy = new BoundedTable<number, PolicyPacketStats>(
    MAX_GONE_KEPT,
    (policy) => new PolicyPacketStats(policy ?? FORGOTTEN_POLICY),
    (into, from) => {
      foldPolicyCounters(into, from);
      into.rerouted += from.rerouted;
    },
    (policy) => this.liveServers.has(policy),
  );
  private readonly retired = new BoundedTable<string, RetiredServer>(
    MAX_GONE_KEPT,
    (key) => {
      const [policy, id] = key === undefined ? [FORGOTTEN_POLICY, FORGOTTEN_POLICY] : key.split('/').map(Number);
      return { policy: policy!, id: id!, served: 0, failures: 0 };
    },
    (into, from) => {
      into.served += from.served;
      into.failures += from.failures;
    },
    (key) => this.liveKeys.has(key),
  );

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
    return this.byPolicy.entry(policy);
  }

  /** The policies that have or had a server, then (FORGOTTEN_POLICY) the sum of those forgotten. */
  *policies(): IterableIterator<PolicyPacketStats> {
    yield* this.byPolicy.values();
    if (this.byPolicy.other !== undefined) yield this.byPolicy.other;
  }

  /** Policies whose counters were summed into FORGOTTEN_POLICY. */
  get forgottenPolicies(): number {
    return this.byPolicy.forgotten;
  }

  /** Totals of server records that are gone, by policy and id, then (FORGOTTEN_POLICY) the sum of those forgotten. */
  *retiredServers(): IterableIterator<RetiredServer> {
    yield* this.retired.values();
    if (this.retired.other !== undefined) yield this.retired.other;
  }

  // RegistryObserver: per-policy counters start with a policy's first server, and a server's
  // counts outlive its record.

  added(record: ServerRecord): void {
    this.liveServers.set(record.policy, (this.liveServers.get(record.policy) ?? 0) + 1);
    this.liveKeys.add(`${record.policy}/${record.id}`);
    this.policy(record.policy);
  }

  removed(record: ServerRecord): void {
    const key = `${record.policy}/${record.id}`;
    this.liveKeys.delete(key);
    const left = (this.liveServers.get(record.policy) ?? 1) - 1;
    if (left > 0) this.liveServers.set(record.policy, left);
    else this.liveServers.delete(record.policy);
    const totals = this.retired.entry(key);
    totals.served += record.served;
    totals.failures += record.failures;
    this.retired.trim();
    if (left === 0) this.byPolicy.trim();
  }

  stateChanged(): void {}
}
