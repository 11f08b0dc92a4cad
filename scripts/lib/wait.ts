/** Polling a state with a deadline: how the scripts and the tests wait, never on a fixed sleep. */

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined or false, and
 * resolves with that value. Throws, naming `what` (and the last error `check` threw), once
 * `timeoutMs` has passed.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
