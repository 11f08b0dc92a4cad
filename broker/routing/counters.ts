/**
 * The counters of one protocol (packets or HTTP), the same set for both: what came in, how it
 * was answered (per policy, per server, per outcome code), what was re-routed. Read by status,
 * metrics and the dashboard. Plain fields: they are bumped per packet or request.
 *
 * Per-policy counters exist for every policy that has or had a server of the protocol (the
 * counters observe the policy table); errors for other policies are counted under
 * `unregistered`, so that random policy numbers cannot grow the table. Those of policies whose
 * servers are all gone, and the totals of servers that left, are kept up to MAX_GONE_KEPT
 * beyond the live ones; older ones are summed under FORGOTTEN_POLICY. Per-server response
 * counts are kept for MAX_SERVERS_PER_POLICY servers of a policy, the rest under OTHER_SERVER.
 */
import { BoundedTable } from '../support/bounded-table.js';
import { LatencyHistogram } from '../support/latency-histogram.js';
import { RecentErrors, type ErrorEvent } from '../support/recent-errors.js';
import type { Member, Protocol } from './member.js';
import type { TableObserver } from './policy-table.js';

/** The policy number of the counters of policies forgotten (gone, and past the cap). */
export const FORGOTTEN_POLICY = -2;
/** Counters kept for policies (and servers) that are gone, at most. */
export const MAX_GONE_KEPT = 200;
/** Servers of one policy whose responses are counted apart. */
export const MAX_SERVERS_PER_POLICY = 64;
export const OTHER_SERVER = 'other';

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

  /** The policy; -1 for the errors of policies that never had a server, FORGOTTEN_POLICY for forgotten ones. */
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
  /** Errors for policies that never had a server. */
  readonly unregistered = new PolicyCounters(-1);
  /** Members serving the protocol per policy, and the policy/id keys of registered ones. */
  private readonly liveServers = new Map<number, number>();
  private readonly liveKeys = new Set<string>();
  private readonly byPolicy = new BoundedTable<number, PolicyCounters>(
    MAX_GONE_KEPT,
    (policy) => new PolicyCounters(policy ?? FORGOTTEN_POLICY),
    foldPolicy,
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

  constructor(
    readonly protocol: Protocol,
    /** The last error answers, for the dashboard. */
    readonly recentErrors = new RecentErrors(),
  ) {}

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
    addStatus(this.countAnswer(policy, startedAt), server, status, 1);
  }

  /** Counts a job of `policy` sent to another server. */
  countReroute(policy: number): void {
    this.rerouted++;
    (this.byPolicy.get(policy) ?? this.unregistered).rerouted++;
  }

  /** These counters as plain data (JSON-safe), for another process to merge(). */
  snapshot(): CountersSnapshot {
    return {
      received: this.received,
      replied: this.replied,
      rerouted: this.rerouted,
      dropped: this.dropped,
      truncated: this.truncated,
      errors: { ...this.errors } as Record<string, number>,
      recentErrors: this.recentErrors.list(),
      policies: Array.from(this.policies(), (p) => ({
        policy: p.policy,
        replied: p.replied,
        rerouted: p.rerouted,
        errors: { ...p.errors } as Record<string, number>,
        latency: { counts: Array.from(p.latency.counts), sumMs: p.latency.sumMs, count: p.latency.count },
        byServer: Array.from(p.byServer, ([server, statuses]): [string, Array<[number, number]>] => [server, [...statuses]]),
      })),
    };
  }

  /** The sum of several front ends' snapshots (--workers), as if one front end had counted it all. */
  static merge(protocol: Protocol, snapshots: readonly CountersSnapshot[]): Counters {
    const merged = new Counters(protocol, RecentErrors.merge(snapshots.map((s) => s.recentErrors)));
    for (const s of snapshots) {
      merged.received += s.received;
      merged.replied += s.replied;
      merged.rerouted += s.rerouted;
      merged.dropped += s.dropped;
      merged.truncated += s.truncated;
      for (const [code, n] of Object.entries(s.errors)) merged.errors[code] = (merged.errors[code] ?? 0) + n;
      for (const p of s.policies) foldPolicy(merged.policy(p.policy), p);
    }
    return merged;
  }

  /** The counters of one policy, created on first use. */
  policy(policy: number): PolicyCounters {
    return this.byPolicy.entry(policy);
  }

  /** The policies that have or had a server, then (FORGOTTEN_POLICY) the sum of those forgotten. */
  *policies(): IterableIterator<PolicyCounters> {
    yield* this.byPolicy.values();
    if (this.byPolicy.other !== undefined) yield this.byPolicy.other;
  }

  /** Policies whose counters were summed into FORGOTTEN_POLICY. */
  get forgottenPolicies(): number {
    return this.byPolicy.forgotten;
  }

  /** Totals of registered servers that are gone, by policy and id, then (FORGOTTEN_POLICY) the sum of those forgotten. */
  *retiredServers(): IterableIterator<RetiredServer> {
    yield* this.retired.values();
    if (this.retired.other !== undefined) yield this.retired.other;
  }

  // TableObserver: a policy's counters start with its first server of the protocol, and a
  // registered server's counts outlive its membership.

  added(member: Member): void {
    if (member.endpoint(this.protocol) === undefined) return;
    this.liveServers.set(member.policy, (this.liveServers.get(member.policy) ?? 0) + 1);
    if (member.id !== undefined) this.liveKeys.add(`${member.policy}/${member.id}`);
    this.policy(member.policy);
  }

  removed(member: Member): void {
    const endpoint = member.endpoint(this.protocol);
    if (endpoint === undefined) return;
    const left = (this.liveServers.get(member.policy) ?? 1) - 1;
    if (left > 0) this.liveServers.set(member.policy, left);
    else this.liveServers.delete(member.policy);
    if (member.id !== undefined) {
      const key = `${member.policy}/${member.id}`;
      this.liveKeys.delete(key);
      const totals = this.retired.entry(key);
      totals.served += endpoint.served;
      totals.failures += endpoint.failures;
      this.retired.trim();
    }
    if (left === 0) this.byPolicy.trim();
  }
}

/** One policy's counters, or a snapshot of them sent by a worker. */
export interface PolicyFigures {
  readonly policy: number;
  readonly replied: number;
  readonly rerouted: number;
  readonly errors: Partial<Record<string, number>>;
  readonly latency: { readonly counts: ArrayLike<number>; readonly sumMs: number; readonly count: number };
  readonly byServer: Iterable<readonly [string, Iterable<readonly [number, number]>]>;
}

/** One policy's counters as plain data (PolicyCounters.byServer as pairs). */
export interface PolicySnapshot extends PolicyFigures {
  readonly errors: Record<string, number>;
  readonly latency: { readonly counts: number[]; readonly sumMs: number; readonly count: number };
  readonly byServer: Array<[string, Array<[number, number]>]>;
}

/** Counters as plain data: what Counters.snapshot() gives and Counters.merge() takes. */
export interface CountersSnapshot {
  readonly received: number;
  readonly replied: number;
  readonly rerouted: number;
  readonly dropped: number;
  readonly truncated: number;
  readonly errors: Record<string, number>;
  /** Newest first. */
  readonly recentErrors: ErrorEvent[];
  readonly policies: PolicySnapshot[];
}

/** Adds one policy's counters into another's (a forgotten policy into the sum of them). */
function foldPolicy(into: PolicyCounters, from: PolicyFigures): void {
  into.replied += from.replied;
  into.rerouted += from.rerouted;
  for (const [code, n] of Object.entries(from.errors)) into.errors[code] = (into.errors[code] ?? 0) + (n ?? 0);
  into.latency.merge(from.latency);
  for (const [server, statuses] of from.byServer) for (const [status, n] of statuses) addStatus(into, server, status, n);
}

/** Counts `n` responses of `status` from `server`; past MAX_SERVERS_PER_POLICY servers, under OTHER_SERVER. */
function addStatus(p: PolicyCounters, server: string, status: number, n: number): void {
  let statuses = p.byServer.get(server);
  if (statuses === undefined) {
    const key = p.byServer.size < MAX_SERVERS_PER_POLICY ? server : OTHER_SERVER;
    statuses = p.byServer.get(key);
    if (statuses === undefined) {
      statuses = new Map();
      p.byServer.set(key, statuses);
    }
  }
  statuses.set(status, (statuses.get(status) ?? 0) + n);
}
