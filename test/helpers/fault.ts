/**
 * What the fault tests share: what to stop when a file's tests are done, polling with a
 * deadline (never a fixed sleep), an in-process broker, a load that checks every answer against
 * its packet, figures printed as "# name: {…}" lines, and the peak memory of a child process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after } from 'node:test';
import { createBroker, type Broker, type BrokerOptions } from '../../broker/index.js';
import { BrokerClient, ClientError, type Answer } from '../../client/index.js';
import { start, startBroker, type Program } from './programs.js';

/**
 * What a test file starts, to be stopped once its tests are done: an `after` hook destroys the
 * sockets, runs the cleanups (last pushed first), then SIGKILLs the programs (last first).
 */
export function teardown(): { programs: Program[]; sockets: Socket[]; cleanups: Array<() => unknown> } {
  const programs: Program[] = [];
  const sockets: Socket[] = [];
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const cleanup of cleanups.reverse()) await cleanup();
    for (const program of programs.reverse()) await program.stop('SIGKILL');
  });
  return { programs, sockets, cleanups };
}

/** The broker program with `brokerArgs` and a pool of servers 100 and 101 in policy 111, ready, both pushed onto `programs`. */
export async function startBrokerAndPool(brokerArgs: string[], programs: Program[]): Promise<{ broker: Program; port: number }> {
  const { broker, port } = await startBroker(brokerArgs);
  programs.push(broker);
  const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100,101']);
  programs.push(pool);
  await pool.ready;
  return { broker, port };
}

/** Prints one line of figures for the test's output. */
export function figures(name: string, values: Record<string, unknown>): void {
  console.log(`# ${name}: ${JSON.stringify(values)}`);
}

export { timeUntil, waitFor } from './wait.js';

/** A field of /proc/PID/status in kB (VmHWM: peak resident memory; VmRSS: current). */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]);
}

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A broker in this process on a free loopback port; close() it when done. */
export async function inProcessBroker(options: Partial<BrokerOptions> = {}): Promise<{ broker: Broker; port: number }> {
  const broker = createBroker({ port: 0, ...options });
  const { port } = await broker.listen();
  return { broker, port };
}

export interface TrackedCount {
  sent: number;
  replies: number;
  /** Error packets by code. */
  errors: Record<string, number>;
  /** Sends that got no answer: the connection closed or the client timed out, by code. */
  failed: Record<string, number>;
  /** Replies whose payload was not the answer to the packet sent (someone else's answer). */
  misdelivered: number;
  byServer: Record<string, number>;
}

export interface TrackedLoadOptions {
  clients: BrokerClient[];
  policy: number | ((n: number) => number);
  count: number;
  concurrency: number;
  /** The reply payload expected for packet n's payload from server srcid; default FakeServer's "<srcid>:<payload>". */
  expected?: (payload: string, srcid: number) => string;
  /** Called after each answer; faults are injected from here. */
  onAnswer?: (count: TrackedCount, answered: number) => void;
  /** Stops sending new packets once this returns true. */
  stop?: () => boolean;
  /** A tag making payloads unique across loads. */
  tag?: string;
}

/** Total answers of any kind (reply, error packet, local failure). */
export function settled(count: TrackedCount): number {
  return count.replies + sum(count.errors) + sum(count.failed);
}

export function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

/** The first figures of a load: packets sent, replies, sends lost, error packets by code. */
export function tally(count: TrackedCount): { sent: number; answered: number; lost: number; errors: Record<string, number> } {
  return { sent: count.sent, answered: count.replies, lost: sum(count.failed), errors: count.errors };
}

/**
 * Sends `count` packets with unique payloads, `concurrency` at a time spread over the clients,
 * and checks each answer: a reply must carry the answer to that very packet.
 */
export async function trackedLoad(options: TrackedLoadOptions): Promise<TrackedCount> {
  const expected = options.expected ?? ((payload: string, srcid: number) => `${srcid}:${payload}`);
  const policyOf = typeof options.policy === 'function' ? options.policy : () => options.policy as number;
  const count: TrackedCount = { sent: 0, replies: 0, errors: {}, failed: {}, misdelivered: 0, byServer: {} };
  const tag = options.tag ?? 'p';
  let next = 0;
  let answered = 0;
  const worker = async (client: BrokerClient): Promise<void> => {
    while (next < options.count && options.stop?.() !== true) {
      const n = next++;
      const payload = `${tag}-${n}`;
      count.sent++;
      let answer: Answer;
      try {
        answer = await client.send({ type: 0, srcid: 1 + (n % 50), privPoliId: policyOf(n), payload });
      } catch (err) {
        const code = err instanceof ClientError ? err.code : String(err);
        count.failed[code] = (count.failed[code] ?? 0) + 1;
        answered++;
        options.onAnswer?.(count, answered);
        continue;
      }
      if (answer.type === 2) {
        count.replies++;
        count.byServer[answer.srcid] = (count.byServer[answer.srcid] ?? 0) + 1;
        if (answer.payload !== expected(payload, answer.srcid) || answer.destid !== 1 + (n % 50)) count.misdelivered++;
      } else if (answer.type === 3) {
        count.errors[answer.code] = (count.errors[answer.code] ?? 0) + 1;
      } else {
        count.misdelivered++;
      }
      answered++;
      options.onAnswer?.(count, answered);
    }
  };
  const workers: Array<Promise<void>> = [];
  for (let i = 0; i < options.concurrency; i++) workers.push(worker(options.clients[i % options.clients.length]!));
  await Promise.all(workers);
  return count;
}

/** Connects `n` library clients to 127.0.0.1:port. */
export function clients(port: number, n: number, extra: Parameters<typeof BrokerClient.connect>[0] = {}): Promise<BrokerClient[]> {
  return Promise.all(Array.from({ length: n }, () => BrokerClient.connect({ host: '127.0.0.1', port, timeoutMs: 30_000, ...extra })));
}
