/**
 * A load that counts every answer by kind, so fault tests can prove nothing was lost: each
 * packet ends as exactly one reply, one error packet, or one local failure (lost).
 */
import { BrokerClient } from '../../client/index.js';

export interface LoadCount {
  sent: number;
  replies: number;
  errors: Record<string, number>;
  /** No answer at all: connection closed or local timeout. */
  lost: number;
  byServer: Record<string, number>;
}

export interface CountedLoadOptions {
  port: number;
  policy: number;
  count: number;
  concurrency: number;
  connections?: number;
  /** Called after each answer with the count so far; the fault is injected from here. */
  onAnswer?: (count: LoadCount) => void;
}

export async function countedLoad(options: CountedLoadOptions): Promise<LoadCount> {
  const connections = options.connections ?? 4;
  const clients = await Promise.all(
    Array.from({ length: connections }, () => BrokerClient.connect({ host: '127.0.0.1', port: options.port, timeoutMs: 20000 })),
  );
  const count: LoadCount = { sent: 0, replies: 0, errors: {}, lost: 0, byServer: {} };
  let next = 0;
  const worker = async (client: BrokerClient): Promise<void> => {
    while (next < options.count) {
      const n = next++;
      count.sent++;
      try {
        const answer: any = await client.send({ type: 0, srcid: 1, privPoliId: options.policy, payload: `packet-${n}` });
        if (answer.type === 2) {
          count.replies++;
          count.byServer[answer.srcid] = (count.byServer[answer.srcid] ?? 0) + 1;
        } else {
          count.errors[answer.code] = (count.errors[answer.code] ?? 0) + 1;
        }
      } catch {
        count.lost++;
      }
      options.onAnswer?.(count);
    }
  };
  const workers = [];
  for (let i = 0; i < options.concurrency; i++) workers.push(worker(clients[i % connections]!));
  await Promise.all(workers);
  await Promise.all(clients.map((client) => client.close()));
  return count;
}
