/**
 * The messages between the primary and its HTTP workers (--workers), over each worker's
 * cluster IPC channel, in order. A worker says hello once it listens for messages; the primary
 * answers with its registry (its store's entries and its packet links' states), then sends every
 * store event and link change. The worker starts its HTTP front end, says it listens, reports its
 * figures every REPORT_INTERVAL_MS, and relays the admin requests, which need the whole broker.
 */
import type { AddressInfo } from 'node:net';
import type { AdminAnswer, AdminRequest } from '../admin/answer.js';
import type { ServerChange } from '../admin/runtime-api.js';
import type { ReloadResult } from '../http/static-backends.js';
import type { ServerEntry, StoreEvent } from '../registry/store.js';
import type { MemberState } from '../routing/member.js';
import type { Decision } from '../trace/decision.js';
import type { TraceSettings } from '../trace/tracer.js';
import type { WorkerReport } from '../admin/merged-http.js';

/** A registered server's packet link as the primary sees it: [id, generation, state]. */
export type LinkState = [id: number, generation: number, state: MemberState];

export type ToWorker =
  /** The registry now. httpPort: the port every worker binds with SO_REUSEPORT (claimed by the primary); absent: cluster's shared socket. */
  | { t: 'welcome'; entries: ServerEntry[]; links: LinkState[]; httpPort?: number }
  /** An event of the primary's store, whatever its kind. */
  | { t: 'store'; event: StoreEvent }
  /**
   * The primary's packet link to a registered server changed state. Liveness is each broker's
   * own observation, not the store's; a worker has no packet links and takes the primary's,
   * so that a server down for packets takes no requests (Member.selectable).
   */
  | { t: 'link'; link: LinkState }
  /** An operator's change (runtime API) to a server of the worker's table, by key (id or IP:PORT); seq: answer with 'done'. */
  | { t: 'change'; key: string; change: ServerChange; seq?: number }
  | { t: 'admin-answer'; seq: number; answer: AdminAnswer }
  /** The trace was switched (and once after welcome). */
  | { t: 'trace-state'; settings: TraceSettings }
  /** The whole trace's latest decisions, to a worker that has a dashboard stream open. */
  | { t: 'trace-feed'; decisions: Decision[] }
  /** Stop accepting, drain (--drain-timeout), report once more and exit 0. */
  | { t: 'stop' }
  /** Read servers.conf again (SIGHUP, POST api/reload): each worker holds its own static backends; seq: answer with 'done'. */
  | { t: 'reload'; seq?: number };

export type FromWorker =
  | { t: 'hello' }
  | { t: 'listening'; address: AddressInfo }
  /** The HTTP listener could not start; the worker exits 1. */
  | { t: 'failed'; message: string }
  | { t: 'report'; report: WorkerReport }
  /** An admin request (the pages describe the whole broker; the runtime API changes it). */
  | { t: 'admin'; seq: number; request: AdminRequest }
  | Done
  /** The worker's HTTP decisions since its last batch (trace on); `dropped`: left out, the batch was full. */
  | { t: 'trace-decisions'; decisions: Decision[]; dropped: number }
  /** The worker has a dashboard trace stream open (true) or no longer (false). */
  | { t: 'trace-watch'; watching: boolean };

/** A worker did what the message `seq` asked: with a reload, what it did (result) or why not (error). */
export type Done = { t: 'done'; seq: number; result?: ReloadResult; error?: string };

/** Whether an IPC message is one of ours (cluster's own travel on the same channel). */
export function isMessage<T extends { t: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string';
}
