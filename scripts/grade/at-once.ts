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
