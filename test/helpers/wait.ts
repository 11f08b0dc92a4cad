/** The one wait of the tests: poll a state, bounded in time; never a fixed sleep, never log wording. */
import { connect } from 'node:net';

export { waitFor } from '../../scripts/lib/wait.js';
import { waitFor } from '../../scripts/lib/wait.js';

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
