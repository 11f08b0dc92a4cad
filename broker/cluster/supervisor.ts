/**
 * The --workers primary's HTTP workers as processes: fork, re-fork one that dies (after a
 * backoff, at most MAX_RESTARTS_PER_MINUTE times a minute), and stop them all. It knows nothing
 * of what they say over IPC: primary.ts does.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../support/logger.js';

/** The first re-fork waits this long; each further one within a minute twice as long, up to MAX_BACKOFF_MS. */
const RESTART_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
const MAX_RESTARTS_PER_MINUTE = 10;
/** How long past --drain-timeout a stopping worker has before it is killed. */
const STOP_GRACE_MS = 5000;

export interface SupervisorEvents {
  forked(worker: Worker): void;
  /** A worker exited (after start() resolved); returns whether another should be forked in its place. */
  exited(worker: Worker): boolean;
}

export class WorkerSupervisor {
  private readonly workers = new Map<number, Worker>();
  /** When the recent re-forks happen(ed), for the backoff and the limit. */
  private restarts: number[] = [];
  private readonly forkTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private startup: { remaining: number; resolve(): void; reject(err: Error): void } | undefined;

  constructor(
    private readonly env: Record<string, string>,
    private readonly log: Logger,
    private readonly events: SupervisorEvents,
  ) {}

  /**
   * Forks `count` workers; resolves once each has listened(), rejects when one fails to listen or
   * exits first. From then on each that exits is forked again while events.exited says so.
   */
  async start(count: number): Promise<void> {
    const listening = new Promise<void>((resolve, reject) => {
      this.startup = { remaining: count, resolve, reject };
    });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    // Each worker accepts on the shared socket itself (the kernel picks which), unless
    // NODE_CLUSTER_SCHED_POLICY=rr asks for cluster's round-robin, where the primary accepts
    // every connection and hands it over IPC: that halves the rate of new connections, takes
    // the primary's time from packets, and a connection being handed to a worker as it dies
    // stays open, unanswered, until the client gives up (see docs/http.md).
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    for (let i = 0; i < count; i++) this.fork();
    try {
      await listening;
    } finally {
      this.startup = undefined;
    }
  }

  /** A worker listens (its 'listening' message); failedToListen: it cannot ('failed'), start() rejects. */
  listened(): void {
    if (this.startup !== undefined && --this.startup.remaining === 0) this.startup.resolve();
  }

  failedToListen(err: Error): void {
    this.startup?.reject(err);
  }

  /** Asks every worker to stop (`ask`), kills those still running `drainTimeoutMs` + STOP_GRACE_MS later; resolves once all exited. */
  async stop(drainTimeoutMs: number, ask: (worker: Worker) => void): Promise<void> {
    this.stopping = true;
    for (const timer of this.forkTimers) clearTimeout(timer);
    const workers = [...this.workers.values()];
    const exited = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of workers) ask(w);
    const killer = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, drainTimeoutMs + STOP_GRACE_MS);
    await Promise.all(exited);
    clearTimeout(killer);
  }

  private fork(): void {
    const worker = cluster.fork(this.env);
    // A send can meet a worker that has just exited, before its 'exit' reaches us (isConnected()
    // is still true): Node then emits EPIPE here, which unhandled would end the primary, and with
    // it every worker and the requests they are draining.
    worker.on('error', (err) => this.log.debug('HTTP worker IPC error', { worker: worker.id, pid: worker.process.pid, error: err.message }));
    this.workers.set(worker.id, worker);
    this.events.forked(worker);
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(worker.id);
    if (!this.events.exited(worker) || this.stopping) return;
    if (this.startup !== undefined) {
      this.startup.reject(new Error(`HTTP worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened`));
      return;
    }
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => t > now - 60_000);
    const delay =
      this.restarts.length >= MAX_RESTARTS_PER_MINUTE
        ? this.restarts[0]! + 60_000 - now
        : Math.min(RESTART_BACKOFF_MS * 2 ** this.restarts.length, MAX_BACKOFF_MS);
    this.restarts.push(now + delay);
    this.log.error('HTTP worker exited; forking another', { worker: worker.id, pid: worker.process.pid, code, signal, inMs: delay });
    const timer = setTimeout(() => {
      this.forkTimers.delete(timer);
      if (!this.stopping) this.fork();
    }, delay);
    this.forkTimers.add(timer);
  }
}
