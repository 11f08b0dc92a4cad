/**
 * Runs checks one after another, each bounded in time. A check that throws or runs out of time
 * fails; after a failure the target is probed, and if it no longer accepts connections every
 * later check fails at once as "not reachable" instead of waiting out its own timeout.
 */
import type { Check, CheckResult, Scope } from './check.js';
import { resultOf } from './check.js';

export interface RunOptions {
  checkTimeoutMs: number;
  /** Whether the target still accepts connections; asked after a failed check. */
  reachable(): Promise<boolean>;
  /**
   * Asked when a failed check left the target unreachable: what the submission said as it died
   * ("; it exited (code 1); it printed: Traceback …"), added to that check's detail.
   */
  explain?: () => Promise<string>;
  /** Called as each check ends, for progress on a terminal. */
  onResult?: (result: CheckResult) => void;
}

export const NOT_REACHABLE = 'not reachable';

export async function runChecks<C>(checks: readonly Check<C>[], context: C, options: RunOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let reachable = true;
  for (const check of checks) {
    const result = reachable ? await runOne(check, context, options.checkTimeoutMs) : resultOf(check, { passed: false, detail: NOT_REACHABLE });
    if (!result.passed && reachable) {
      reachable = await options.reachable();
      if (!reachable && options.explain !== undefined) result.detail += await options.explain();
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/** One check, raced against its timeout; its scope is closed either way. */
async function runOne<C>(check: Check<C>, context: C, timeoutMs: number): Promise<CheckResult> {
  const owned: Array<{ destroy(): void }> = [];
  let closed = false;
  const scope: Scope = {
    own(resource) {
      // A check still running after its time is up gets nothing that stays open.
      if (closed) resource.destroy();
      else owned.push(resource);
      return resource;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ passed: false; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ passed: false, detail: `timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      check.run(context, scope).catch((err: unknown) => ({ passed: false, detail: err instanceof Error ? err.message : String(err) })),
      timeout,
    ]);
    return resultOf(check, outcome);
  } finally {
    clearTimeout(timer);
    closed = true;
    for (const resource of owned) resource.destroy();
  }
}
