/**
 * The whole broker's HTTP figures with --workers. Each worker sends the primary a report of its
 * front end every REPORT_INTERVAL_MS (counters, per-policy histograms, its backend table); the
 * primary's MergedHttpView sums the latest report of each worker and serves that to the admin
 * pages as their HttpSource, as if one front end had done all the work. When a worker exits,
 * its last report's counters are kept (retired), so that totals never go back; what it counted
 * after that report is lost. Pure data: no I/O.
 */
import type { AddressInfo } from 'node:net';
import type { HttpBackendView, HttpSource, WorkerStatus } from './http-source.js';
import { HookCounters, type HookCounts } from '../hooks/counters.js';
import type { BackendSnapshot } from '../http/backend-view.js';
import { mergeUpgradeFigures, type UpgradeFigures } from '../http/upgrade-counters.js';
import { Counters, type CountersSnapshot } from '../routing/counters.js';
import type { MemberState } from '../routing/member.js';

/** How often a worker reports to the primary. */
export const REPORT_INTERVAL_MS = 500;

/** What a worker tells the primary every REPORT_INTERVAL_MS, and once more as it exits. */
export interface WorkerReport {
  connections: number;
  inflight: number;
  rss: number;
  stats: CountersSnapshot;
  backends: BackendSnapshot[];
  /** Its upgrades and open tunnels (WebSockets). */
  upgrades: UpgradeFigures;
  /** The worker's interceptor counters (docs/hooks.md), when it has interceptors. */
  hooks?: Record<string, HookCounts>;
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
  private retiredStats: CountersSnapshot[] = [];
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
    this.retiredStats = [Counters.merge('http', [...this.retiredStats, last.stats]).snapshot()];
    if (last.hooks !== undefined) this.retiredHooks = HookCounters.merge([this.retiredHooks, last.hooks]);
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
    return HookCounters.merge([this.retiredHooks, ...reports]);
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
        stats: Counters.merge('http', [...this.retiredStats, ...reports.map((r) => r.stats)]),
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
