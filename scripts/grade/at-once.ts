/** Many clients at once, each taking its steps one after another: what the concurrency checks run. */

export interface AtOnce {
  /** Steps that completed, over all clients. */
  done: number;
  /** The first failure of each client that failed. */
  failures: string[];
}

/** Runs `steps` steps on every connection at once; a client stops at its first failed step. */
export async function atOnce<T>(connections: T[], steps: number, step: (connection: T, client: number, i: number) => Promise<unknown>): Promise<AtOnce> {
  const result: AtOnce = { done: 0, failures: [] };
  await Promise.all(
    connections.map(async (connection, client) => {
      try {
        for (let i = 0; i < steps; i++) {
          await step(connection, client, i);
          result.done++;
        }
      } catch (err) {
        result.failures.push(err instanceof Error ? err.message : String(err));
      }
    }),
  );
  return result;
}

/**
 * Opens `count` connections at once; all of them, or how many failed and the first reason
 * (a server that accepts one client at a time leaves the others in its listen queue, or drops them).
 */
export async function connectAll<T>(count: number, open: () => Promise<T>): Promise<T[] | { refused: number; first: string }> {
  const settled = await Promise.allSettled(Array.from({ length: count }, open));
  const failed = settled.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed.length === 0) return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
  const reason: unknown = failed[0]!.reason;
  return { refused: failed.length, first: `"${reason instanceof Error ? reason.message : String(reason)}"` };
}
