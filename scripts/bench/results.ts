/**
 * Raw runs in, summaries out: what one run records, and the median and range of each case.
 */

/** One run of one case: what the JSON file keeps. */
export interface RunRecord {
  suite: string;
  case: string;
  round: number;
  /** Answers (packets) or responses (HTTP) per second. */
  rps: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  maxMs?: number;
  /** Errors of any kind: type 3 answers, failed verifications, non-2xx, socket errors. */
  errors: number;
  answered?: number;
  windowMs?: number;
  /** CPU used during the measured window, in cores, by process group (`machine`: the whole machine). */
  cpu?: Record<string, number>;
  /** CPU time per answer in the window, in µs, by process group. */
  cpuUsPerAnswer?: Record<string, number>;
  /** Cores busy on the machine just before the run (the harness waits for a quiet moment). */
  busyBefore?: number;
  shape?: object;
  memory?: Record<string, unknown>;
  /** The exact command of an external load generator (wrk). */
  command?: string;
  note?: string;
  /** Registry failover case: how long a registration made at the kill (or at the same moment without it) waited for its answer. */
  registrationMs?: number;
  /** Registry failover case: from the primary's kill to the Sentinels naming the promoted replica. */
  failoverMs?: number;
}

/** Cores of other work busy just before a case above which the case is noisy: neither met nor missed. */
export const NOISY_CORES = 0.5;

/** True when any of `runs` started on a machine busy with other work. */
export function anyNoisy(runs: readonly RunRecord[]): boolean {
  return runs.some((r) => (r.busyBefore ?? 0) > NOISY_CORES);
}

export interface CaseSummary {
  suite: string;
  case: string;
  runs: number;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  p99Min: number | undefined;
  p99Max: number | undefined;
  errors: number;
  /** Median CPU (cores) per process group. */
  cpu: Record<string, number>;
  /** Median CPU time per answer (µs) per process group. */
  cpuUs: Record<string, number>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One summary per (suite, case), in the order the cases first appear. */
export function summarize(records: readonly RunRecord[]): CaseSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.suite}\u0000${r.case}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return [...groups.values()].map((runs) => {
    const rps = runs.map((r) => r.rps);
    const p99 = runs.map((r) => r.p99Ms).filter((v): v is number => v !== undefined);
    const p50 = runs.map((r) => r.p50Ms).filter((v): v is number => v !== undefined);
    const cpuNames = new Set(runs.flatMap((r) => Object.keys(r.cpu ?? {})));
    const cpu: Record<string, number> = {};
    for (const name of cpuNames) cpu[name] = median(runs.map((r) => r.cpu?.[name]).filter((v): v is number => v !== undefined));
    const cpuUs: Record<string, number> = {};
    for (const name of new Set(runs.flatMap((r) => Object.keys(r.cpuUsPerAnswer ?? {})))) {
      cpuUs[name] = median(runs.map((r) => r.cpuUsPerAnswer?.[name]).filter((v): v is number => v !== undefined));
    }
    return {
      suite: runs[0]!.suite,
      case: runs[0]!.case,
      runs: runs.length,
      rps: median(rps),
      rpsMin: Math.min(...rps),
      rpsMax: Math.max(...rps),
      p50Ms: p50.length > 0 ? median(p50) : undefined,
      p99Ms: p99.length > 0 ? median(p99) : undefined,
      p99Min: p99.length > 0 ? Math.min(...p99) : undefined,
      p99Max: p99.length > 0 ? Math.max(...p99) : undefined,
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      cpu,
      cpuUs,
    };
  });
}

/** The summary of one case, or undefined when it did not run. */
export function find(summaries: readonly CaseSummary[], suite: string, name: string): CaseSummary | undefined {
  return summaries.find((s) => s.suite === suite && s.case === name);
}

/**
 * The ratio a/b computed per round (both measured in the same round, side by side), then the
 * median of those: steadier than the ratio of medians when the machine's load drifts.
 */
export function pairedRatio(
  records: readonly RunRecord[],
  suite: string,
  a: string,
  b: string,
  figure: (r: RunRecord) => number | undefined = (r) => r.rps,
): { median: number; min: number; max: number } | undefined {
  const ratios: number[] = [];
  const rounds = new Set(records.filter((r) => r.suite === suite).map((r) => r.round));
  for (const round of rounds) {
    const ra = records.find((r) => r.suite === suite && r.case === a && r.round === round);
    const rb = records.find((r) => r.suite === suite && r.case === b && r.round === round);
    const fa = ra === undefined ? undefined : figure(ra);
    const fb = rb === undefined ? undefined : figure(rb);
    if (fa !== undefined && fb !== undefined && fb > 0) ratios.push(fa / fb);
  }
  if (ratios.length === 0) return undefined;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}
