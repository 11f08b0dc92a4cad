/** How often a drain looks again. */
const POLL_MS = 10;

/**
 * Resolves true once `done()` is true, or false when `timeoutMs` passed first: how a shutdown
 * waits for what is in flight (packets or requests) to be answered.
 */
export async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}
