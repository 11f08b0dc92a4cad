/**
 * One hook call, bounded: a synchronous hook returns at once; an asynchronous one races its
 * timeoutMs. The caller hears exactly once, with the outcome. A hook that finishes after its
 * timeout is ignored (its context is dead by then, so late changes go nowhere).
 */
import type { Hook } from './check.js';
import type { HookCounts } from './counters.js';
import type { Logger } from '../support/logger.js';

export type CallOutcome = 'ok' | 'error' | 'timeout';

/** Hears the outcome of one call: its return value when ok, the error otherwise. */
export type CallDone = (outcome: CallOutcome, value: unknown, error: Error | undefined) => void;

export function callHook(hook: Hook, counts: HookCounts, invoke: () => unknown, done: CallDone): void {
  counts.calls++;
  const startedAt = performance.now();
  let result: unknown;
  try {
    result = invoke();
  } catch (err) {
    counts.errors++;
    done('error', undefined, asError(err));
    return;
  }
  if (!isThenable(result)) {
    counts.totalMs += performance.now() - startedAt;
    done('ok', result, undefined);
    return;
  }
  let settled = false;
  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    counts.timeouts++;
    done('timeout', undefined, new Error(`did not finish within ${hook.timeoutMs} ms`));
  }, hook.timeoutMs);
  result.then(
    (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      counts.totalMs += performance.now() - startedAt;
      done('ok', value, undefined);
    },
    (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      counts.errors++;
      done('error', undefined, asError(err));
    },
  );
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** How a chain applies its hooks. */
export interface ChainStep {
  /** Calls `hook` on a fresh context of its own. */
  invoke(hook: Hook): unknown;
  /** The call finished in time: apply what it changed. False stops the chain (the hook answered). */
  commit(hook: Hook, value: unknown): boolean;
  /** The call threw or timed out (before the fail mode is applied), for the log. */
  failed(hook: Hook, outcome: CallOutcome, error: Error): void;
}

/** The fail-closed hook that stopped a chain. */
export interface ChainFailure {
  readonly hook: Hook;
  readonly outcome: CallOutcome;
  readonly error: Error;
}

/**
 * Runs hooks one after another (synchronous ones in one loop, without a promise), each bounded
 * by callHook. A failing fail-open hook is skipped; a failing fail-closed one stops the chain.
 * `done` is called exactly once: with the failure, or undefined when the chain ran to its end
 * or a hook answered.
 */
export function runChain(hooks: readonly Hook[], countsOf: (hook: Hook) => HookCounts, step: ChainStep, done: (failure: ChainFailure | undefined) => void): void {
  const handle = (hook: Hook, outcome: CallOutcome, value: unknown, error: Error | undefined): boolean => {
    if (outcome === 'ok') {
      if (step.commit(hook, value)) return true;
      done(undefined);
      return false;
    }
    step.failed(hook, outcome, error!);
    if (hook.failOpen) return true;
    countsOf(hook).failedClosed++;
    done({ hook, outcome, error: error! });
    return false;
  };
  const run = (from: number): void => {
    for (let i = from; i < hooks.length; i++) {
      const hook = hooks[i]!;
      let inline = true;
      let result: [CallOutcome, unknown, Error | undefined] | undefined;
      callHook(hook, countsOf(hook), () => step.invoke(hook), (outcome, value, error) => {
        if (inline) result = [outcome, value, error];
        else if (handle(hook, outcome, value, error)) run(i + 1);
      });
      inline = false;
      if (result === undefined) return;
      if (!handle(hook, result[0], result[1], result[2])) return;
    }
    done(undefined);
  };
  run(0);
}

/** What the client is told of a fail-closed failure: "interceptor X failed: …" or "… did not finish within N ms". */
export function describeFailure(failure: ChainFailure): string {
  const what = failure.outcome === 'timeout' ? failure.error.message : `failed: ${failure.error.message}`;
  return `interceptor ${failure.hook.name} ${what}`;
}

/** The warn line of a failed call (fail-open or not), with what identifies the message. */
export function logFailure(log: Logger, hook: Hook, phase: string, outcome: CallOutcome, error: Error, message: Record<string, unknown> = {}): void {
  log.warn('interceptor failed', { hook: hook.name, phase, outcome, error: error.message, failMode: hook.failOpen ? 'open' : 'closed', ...message });
}
