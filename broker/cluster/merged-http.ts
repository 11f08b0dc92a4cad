/**
 * The whole broker's HTTP figures with --workers. Each worker sends the primary a report of its
 * front end every REPORT_INTERVAL_MS (counters, per-policy histograms, its backend table); the
 * primary's MergedHttpView sums the latest report of each worker and serves that to the admin
 * pages as their HttpSource, as if one front end had done all the work. When a worker exits,
 * its last report's counters are kept (retired), so that totals never go back; what it counted
 * after that report is lost. Pure data: no I/O.
 */
import { mergeCounts, type HookCounts } from '../hooks/counters.js';
import type { AddressInfo } from 'node:net';
import type { HttpBackendView, HttpSource, WorkerStatus } from '../admin/http-source.js';
import { Counters } from '../routing/counters.js';
import type { AdminMode, MemberState } from '../routing/member.js';
import { RecentErrors, type ErrorEvent } from '../support/recent-errors.js';
import { mergeUpgradeFigures, type UpgradeFigures } from '../http/upgrade-counters.js';

/** How often a worker reports to the primary. */
export const REPORT_INTERVAL_MS = 500;
/** Recent errors kept in a merged view, as RecentErrors keeps. */
const RECENT_ERRORS = 50;

/** One policy's counters, as plain data. */
export interface PolicySnapshot {
  policy: number;
  replied: number;
  errors: Record<string, number>;
  latency: { counts: number[]; sumMs: number; count: number };
  /** [server, [[status, responses], …]], as PolicyCounters.byServer. */
  byServer: Array<[string, Array<[number, number]>]>;
}

/** A front end's counters (Counters), as plain data. */
export interface StatsSnapshot {
  received: number;
  replied: number;
  rerouted: number;
  dropped: number;
  truncated: number;
  errors: Record<string, number>;
  /** Newest first. */
  recentErrors: ErrorEvent[];
  policies: PolicySnapshot[];
}

/** One backend of a worker's table, as plain data. */
export interface BackendSnapshot {
  policy: number;
  id: number | null;
  source: 'registered' | 'static';
  address: string;
  state: MemberState;
  weight: number;
  admin: AdminMode;
  outstanding: number;
  served: number;
  failures: number;
  lastError: string | null;
}

/** What a worker tells the primary every REPORT_INTERVAL_MS, and once more as it exits. */
export interface WorkerReport {
  connections: number;
  inflight: number;
  rss: number;
  stats: StatsSnapshot;
  backends: BackendSnapshot[];
  /** Its upgrades and open tunnels (WebSockets). */
  upgrades: UpgradeFigures;
  /** The worker's interceptor counters (docs/hooks.md), when it has interceptors. */
  hooks?: Record<string, HookCounts>;
}

export function snapshotStats(stats: Counters): StatsSnapshot {
  return {
    received: stats.received,
    replied: stats.replied,
    rerouted: stats.rerouted,
    dropped: stats.dropped,
    truncated: stats.truncated,
    errors: { ...stats.errors } as Record<string, number>,
    recentErrors: stats.recentErrors.list(),
    policies: Array.from(stats.policies(), (p) => ({
      policy: p.policy,
      replied: p.replied,
      errors: { ...p.errors } as Record<string, number>,
      latency: { counts: Array.from(p.latency.counts), sumMs: p.latency.sumMs, count: p.latency.count },
      byServer: Array.from(p.byServer, ([server, statuses]) => [server, [...statuses]]),
    })),
  };
}

export function snapshotBackends(backends: Iterable<HttpBackendView>): BackendSnapshot[] {
  return Array.from(backends, (b) => ({
    policy: b.policy,
    id: b.id ?? null,
    source: b.source,
    address: b.address,
    state: b.state,
    weight: b.weight,
    admin: b.admin,
    outstanding: b.outstanding,
    served: b.served,
    failures: b.failures,
    lastError: b.lastError ?? null,
  }));
}

/** The sum of several front ends' counters, as if one front end had counted it all. */
export function mergeStats(snapshots: readonly StatsSnapshot[]): Counters {
  const recent: ErrorEvent[] = [];
  for (const s of snapshots) recent.push(...s.recentErrors);
  recent.sort((a, b) => b.at - a.at);
  const merged = new Counters('http', RecentErrors.of(foldRepeats(recent).slice(0, RECENT_ERRORS), RECENT_ERRORS));
  for (const s of snapshots) {
    merged.received += s.received;
    merged.replied += s.replied;
    merged.rerouted += s.rerouted;
    merged.dropped += s.dropped;
    merged.truncated += s.truncated;
    addCounts(merged.errors, s.errors);
    for (const p of s.policies) merged.fold(p);
  }
  return merged;
}

/** The same backend in every worker's table. */
function backendKey(b: BackendSnapshot): string {
  return `${b.policy}/${b.source}/${b.id ?? b.address}`;
}

/** Worst first: a backend one worker sees down is shown down. */
const STATE_RANK: Record<MemberState, number> = { down: 0, draining: 1, connecting: 2, up: 3 };

/**
 * One row per backend over the workers' tables: in-flight, served and failures summed (plus
 * what exited workers had counted), the state all workers agree on or else the worst one, and
 * the first last error found.
 */
export function mergeBackends(tables: readonly BackendSnapshot[][], retired: ReadonlyMap<string, { served: number; failures: number }>): HttpBackendView[] {
  const rows = new Map<string, BackendSnapshot>();
  for (const table of tables) {
    for (const b of table) {
      const key = backendKey(b);
      const row = rows.get(key);
      if (row === undefined) {
        const before = retired.get(key);
        rows.set(key, { ...b, served: b.served + (before?.served ?? 0), failures: b.failures + (before?.failures ?? 0) });
        continue;
      }
      row.outstanding += b.outstanding;
      row.served += b.served;
      row.failures += b.failures;
      if (STATE_RANK[b.state] < STATE_RANK[row.state]) row.state = b.state;
      row.lastError ??= b.lastError;
    }
  }
  return Array.from(rows.values(), (b) => ({ ...b, id: b.id ?? undefined, lastError: b.lastError ?? undefined }));
}

interface WorkerEntry {
  readonly id: number;
  readonly pid: number;
  listening: boolean;
  report: WorkerReport | undefined;
}

/** The primary's HttpSource: its workers' latest reports, summed. */
export class MergedHttpView implements HttpSource {
  private readonly live = new Map<number, WorkerEntry>();
  private retiredStats: StatsSnapshot[] = [];
  private retiredHooks: Record<string, HookCounts> = {};
  /** Exited workers' upgrade totals (their tunnels closed with them). */
  private retiredUpgrades: UpgradeFigures = mergeUpgradeFigures([]);
  private readonly retiredBackends = new Map<string, { served: number; failures: number }>();
  private httpAddress: AddressInfo | undefined;
  private merged: { stats: Counters; backends: HttpBackendView[] } | undefined;
  backends(): Iterable<HttpBackendView> {
    return this.current().backends;
  }

  /** A worker was forked. */
  started(id: number, pid: number): void {
    this.live.set(id, { id, pid, listening: false, report: undefined });
  }

  /** A worker's HTTP listener is up (all share one address). */
  listening(id: number, address: AddressInfo): void {
    const entry = this.live.get(id);
    if (entry !== undefined) entry.listening = true;
    this.httpAddress ??= address;
  }

  /** A worker's latest report. */
  report(id: number, report: WorkerReport): void {
    const entry = this.live.get(id);
    if (entry === undefined) return;
    entry.report = report;
    this.merged = undefined;
  }

  /** A worker exited: its last report's counters are kept; its gauges (connections, in flight) go. */
  gone(id: number): void {
    const entry = this.live.get(id);
    if (entry === undefined) return;
    this.live.delete(id);
    const last = entry.report;
    if (last === undefined) return;
    // Folded into one snapshot, so that restarts do not grow the list.
    this.retiredStats = [snapshotStats(mergeStats([...this.retiredStats, last.stats]))];
    if (last.hooks !== undefined) this.retiredHooks = mergeCounts([this.retiredHooks, last.hooks]);
    this.retiredUpgrades = mergeUpgradeFigures([this.retiredUpgrades, { totals: last.upgrades.totals, open: [] }]);
    for (const b of last.backends) {
      const key = backendKey(b);
      const totals = this.retiredBackends.get(key) ?? { served: 0, failures: 0 };
      totals.served += b.served;
      totals.failures += b.failures;
      this.retiredBackends.set(key, totals);
    }
    this.merged = undefined;
  }

  get stats(): Counters {
    return this.current().stats;
  }

  get connectionCount(): number {
    return this.sum((r) => r.connections);
  }

  get inflight(): number {
    return this.sum((r) => r.inflight);
  }

  address(): AddressInfo | undefined {
    return this.httpAddress;
  }

  upgradeFigures(): UpgradeFigures {
    const reports = [...this.live.values()].flatMap((w) => (w.report === undefined ? [] : [w.report.upgrades]));
    return mergeUpgradeFigures([this.retiredUpgrades, ...reports]);
  }

  hookCounts(): Record<string, HookCounts> {
    const reports = [...this.live.values()].flatMap((w) => (w.report?.hooks === undefined ? [] : [w.report.hooks]));
    return mergeCounts([this.retiredHooks, ...reports]);
  }

  workers(): WorkerStatus[] {
    return Array.from(this.live.values(), (w) => ({
      id: w.id,
      pid: w.pid,
      listening: w.listening,
      connections: w.report?.connections ?? 0,
      inflight: w.report?.inflight ?? 0,
      requests: w.report?.stats.received ?? 0,
      proxied: w.report?.stats.replied ?? 0,
      backends: w.report?.backends.length ?? 0,
      rss: w.report?.rss ?? 0,
    }));
  }

  private current(): { stats: Counters; backends: HttpBackendView[] } {
    if (this.merged === undefined) {
      const reports = [...this.live.values()].flatMap((w) => (w.report === undefined ? [] : [w.report]));
      this.merged = {
        stats: mergeStats([...this.retiredStats, ...reports.map((r) => r.stats)]),
        backends: mergeBackends(
          reports.map((r) => r.backends),
          this.retiredBackends,
        ),
      };
    }
    return this.merged;
  }

  private sum(field: (report: WorkerReport) => number): number {
    let total = 0;
    for (const w of this.live.values()) if (w.report !== undefined) total += field(w.report);
    return total;
  }
}

function addCounts(into: Partial<Record<string, number>>, from: Partial<Record<string, number>>): void {
  for (const key in from) into[key] = (into[key] ?? 0) + (from[key] ?? 0);
}

/**
 * Folds neighbours that are the same error (code, policy, message) into one row with their
 * counts added, as each worker's RecentErrors does: a storm seen by several workers is one row.
 * `events` is newest first, so the row keeps the newest `at`.
 */
function foldRepeats(events: readonly ErrorEvent[]): ErrorEvent[] {
  const out: ErrorEvent[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (last !== undefined && last.code === e.code && last.policy === e.policy && last.message === e.message) last.count += e.count;
    else out.push({ ...e });
  }
  return out;
}
