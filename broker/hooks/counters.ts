/**
 * Per-interceptor counters, the one owner of every hook number; metrics, status and the
 * dashboard read them. Plain fields, so that --workers can send and add them up.
 */
export interface HookCounts {
  /** Hook calls made. */
  calls: number;
  /** Calls that threw or rejected. */
  errors: number;
  /** Calls that did not finish within timeoutMs. */
  timeouts: number;
  /** Of the errors and timeouts, those answered 502 / HOOK_FAILED (fail-closed). */
  failedClosed: number;
  /** Messages answered by the hook itself (respond, answer, drop). */
  answered: number;
  /** Bodies over maxBytes (413, or a response passed through or answered 502). */
  overflows: number;
  /** Messages whose policy the hook changed. */
  policyChanges: number;
  /** Time spent in calls that finished, in ms. */
  totalMs: number;
}

export const COUNT_FIELDS = ['calls', 'errors', 'timeouts', 'failedClosed', 'answered', 'overflows', 'policyChanges', 'totalMs'] as const;

export function emptyCounts(): HookCounts {
  return { calls: 0, errors: 0, timeouts: 0, failedClosed: 0, answered: 0, overflows: 0, policyChanges: 0, totalMs: 0 };
}

export class HookCounters {
  readonly byName = new Map<string, HookCounts>();

  constructor(names: readonly string[]) {
    for (const name of names) this.byName.set(name, emptyCounts());
  }

  of(name: string): HookCounts {
    let counts = this.byName.get(name);
    if (counts === undefined) this.byName.set(name, (counts = emptyCounts()));
    return counts;
  }

  /** A plain copy, for reports. */
  snapshot(): Record<string, HookCounts> {
    const out: Record<string, HookCounts> = {};
    for (const [name, counts] of this.byName) out[name] = { ...counts };
    return out;
  }

  /** Adds up snapshots (one per --workers process). */
  static merge(snapshots: readonly Record<string, HookCounts>[]): Record<string, HookCounts> {
    const out: Record<string, HookCounts> = {};
    for (const snapshot of snapshots) {
      for (const [name, counts] of Object.entries(snapshot)) {
        const into = (out[name] ??= emptyCounts());
        for (const field of COUNT_FIELDS) into[field] += counts[field];
      }
    }
    return out;
  }
}
