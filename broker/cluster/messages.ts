/**
 * The messages between the primary and its HTTP workers (--workers), over each worker's
 * cluster IPC channel, in order. A worker says hello once it listens for messages; the
 * primary answers with the registry, then sends every
 * registry change. The worker starts its HTTP front end, says it listens, reports its figures
 * every REPORT_INTERVAL_MS, and relays the admin requests that need the whole broker.
 */
import type { AddressInfo } from 'node:net';
import type { AdminAnswer } from '../admin/answer.js';
import type { Decision } from '../trace/decision.js';
import type { TraceSettings } from '../trace/tracer.js';
import type { WorkerReport } from './merged-http.js';
import type { RegistryEvent, ServerInfo } from './registry-mirror.js';

export type ToWorker =
  /** The registry now. */
  /** httpPort: the port every worker binds with SO_REUSEPORT (claimed by the primary); absent: cluster's shared socket. */
  | { t: 'welcome'; servers: ServerInfo[]; httpPort?: number }
  | { t: 'registry'; event: RegistryEvent }
  | { t: 'admin-answer'; seq: number; answer: AdminAnswer }
  /** The trace was switched (and once after welcome). */
  | { t: 'trace-state'; settings: TraceSettings }
  /** The whole trace's latest decisions, to a worker that has a dashboard stream open. */
  | { t: 'trace-feed'; decisions: Decision[] }
  /** Stop accepting, drain (--drain-timeout), report once more and exit 0. */
  | { t: 'stop' };

export type FromWorker =
  | { t: 'hello' }
  | { t: 'listening'; address: AddressInfo }
  /** The HTTP listener could not start; the worker exits 1. */
  | { t: 'failed'; message: string }
  | { t: 'report'; report: WorkerReport }
  /** An admin page that describes the whole broker (status, metrics, activity, the dashboard). */
  | { t: 'admin'; seq: number; path: string; url: string; authorized: boolean; method: string }
  /** The worker's HTTP decisions since its last batch (trace on); `dropped`: left out, the batch was full. */
  | { t: 'trace-decisions'; decisions: Decision[]; dropped: number }
  /** The worker has a dashboard trace stream open (true) or no longer (false). */
  | { t: 'trace-watch'; watching: boolean };

/** Whether an IPC message is one of ours (cluster's own travel on the same channel). */
export function isMessage<T extends { t: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string';
}
