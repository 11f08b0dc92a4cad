/** The one wait of the tests: poll a state, bounded in time; never a fixed sleep, never log wording. */
import { connect } from 'node:net';

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

/** Like waitFor, and resolves with how long the wait took, in ms. */
export async function timeUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 10): Promise<number> {
  const started = Date.now();
  await waitFor(what, check, timeoutMs, intervalMs);
  return Date.now() - started;
}

/** True once nothing accepts TCP connections on 127.0.0.1:port (a broker closes its packet listener as its stop begins). */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}
