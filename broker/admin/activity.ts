/**
 * What the dashboard draws over time, kept in the broker so that it survives a page reload: once
 * a second, the packets and HTTP requests answered per policy since the last sample (and how
 * many were errors, and their mean latency), and the packets each registered server answered
 * (so that a page opened now shows per-server rates at once), in a ring of the last five minutes. Served at
 * <admin prefix>activity with the recent error answers of both front ends.
 */
import type { ErrorEvent } from '../support/recent-errors.js';
import type { StatusSources } from './status.js';

/** Answers in one interval for one policy. */
export interface PolicyDelta {
  answered: number;
  errors: number;
  /** Mean time to a reply in the interval; null when there was no reply. */
  latencyMs: number | null;
}

export interface ActivitySample {
  /** End of the interval (ms since the epoch). */
  t: number;
  /** Per policy (as a string key): packets answered in the interval; policies with none are left out. */
  packets: Record<string, PolicyDelta>;
  /** Per policy: HTTP requests answered in the interval (HTTP on only). */
  http: Record<string, PolicyDelta>;
  /** Per registered server ("policy/id"): packets it answered in the interval; servers with none are left out. */
  servers: Record<string, number>;
}

export interface ActivityReport {
  intervalMs: number;
  /** Oldest first; only those after `since` when it was given. */
  samples: ActivitySample[];
  /** The last error answers of both front ends, newest first. */
  errors: Array<ErrorEvent & { kind: 'packet' | 'http' }>;
}

/** Cumulative counts of one policy at the last sample: answered, errors, latency sum, latency count. */
type Totals = [number, number, number, number];

const MAX_ERRORS = 50;

export class Activity {
  private readonly ring: ActivitySample[] = [];
  private next = 0;
  private lastPackets = new Map<number, Totals>();
  private lastHttp = new Map<number, Totals>();
  /** Served count of each registered server ("policy/id") at the last sample. */
  private lastServed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly src: StatusSources,
    readonly intervalMs = 1000,
    /** Samples kept: five minutes at one a second. */
    readonly capacity = 300,
  ) {}

  /** Takes a sample every intervalMs until stop(). */
  start(): void {
    if (this.timer !== undefined) return;
    this.sample(Date.now()); // the baseline: counts so far are not a rate
    this.ring.length = 0;
    this.next = 0;
    this.timer = setInterval(() => this.sample(Date.now()), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Records the answers since the previous sample. */
  sample(now: number): void {
    // The totals are kept only for the policies counted now: those forgotten (stats.ts) go too.
    const packets: Record<string, PolicyDelta> = {};
    const lastPackets = new Map<number, Totals>();
    for (const p of this.src.stats.policies()) {
      if (p.policy < 0) continue;
      delta(packets, this.lastPackets, lastPackets, p.policy, p.replied, sumValues(p.errors), p.latency.sumMs, p.latency.count);
    }
    this.lastPackets = lastPackets;
    const http: Record<string, PolicyDelta> = {};
    if (this.src.http !== undefined) {
      const lastHttp = new Map<number, Totals>();
      for (const p of this.src.http.stats.policies()) {
        if (p.policy < 0) continue;
        delta(http, this.lastHttp, lastHttp, p.policy, p.replied, sumValues(p.errors), p.latency.sumMs, p.latency.count);
      }
      this.lastHttp = lastHttp;
    }
    const servers: Record<string, number> = {};
    const served = new Map<string, number>();
    for (const r of this.src.table.endpoints('packets')) {
      const key = `${r.member.policy}/${r.member.id}`;
      const before = this.lastServed.get(key);
      // A server new since the last sample (or registered again, its count restarted) counts from 0.
      const delta = before === undefined || r.served < before ? r.served : r.served - before;
      if (delta > 0) servers[key] = delta;
      served.set(key, r.served);
    }
    // Only the servers registered now are remembered: the map never outgrows the registry.
    this.lastServed = served;
    const entry: ActivitySample = { t: now, packets, http, servers };
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The samples (those ending after `since`, when given) and the recent errors. */
  report(since?: number): ActivityReport {
    const n = this.ring.length;
    const start = n < this.capacity ? 0 : this.next;
    const samples: ActivitySample[] = [];
    for (let k = 0; k < n; k++) {
      const sample = this.ring[(start + k) % n]!;
      if (since === undefined || sample.t > since) samples.push(sample);
    }
    const errors: ActivityReport['errors'] = this.src.stats.recentErrors.list().map((e) => ({ ...e, kind: 'packet' as const }));
    if (this.src.http !== undefined) for (const e of this.src.http.stats.recentErrors.list()) errors.push({ ...e, kind: 'http' });
    errors.sort((a, b) => b.at - a.at);
    return { intervalMs: this.intervalMs, samples, errors: errors.slice(0, MAX_ERRORS) };
  }
}

function delta(out: Record<string, PolicyDelta>, last: Map<number, Totals>, next: Map<number, Totals>, policy: number, replied: number, errors: number, latencySum: number, latencyCount: number): void {
  const before = last.get(policy) ?? [0, 0, 0, 0];
  const answered = replied + errors;
  const count = latencyCount - before[3];
  // A policy with no answers in the interval is left out: absent means zero.
  if (answered !== before[0]) {
    out[policy] = {
      answered: answered - before[0],
      errors: errors - before[1],
      latencyMs: count > 0 ? round3((latencySum - before[2]) / count) : null,
    };
  }
  next.set(policy, [answered, errors, latencySum, latencyCount]);
}

function sumValues(record: Partial<Record<string, number>>): number {
  let total = 0;
  for (const key in record) total += record[key] ?? 0;
  return total;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
