/**
 * The routing trace across --workers, batched over IPC. HTTP decisions are made in the workers:
 * each worker's Tracer (no logger of its own) hands them to a DecisionBatcher that sends them to
 * the primary, whose Tracer merges them with its own packet decisions, as one trace. A worker's
 * dashboard stream shows the primary's whole trace: while the worker has a stream open it says
 * so, and the primary batches every decision to it, into a second Tracer of the worker's that
 * its TraceStream reads. The trace's on/off and sampling live in the primary.
 */
import type { Decision } from './decision.js';

/** Decisions held for one IPC message at most; more within one interval are dropped and counted. */
export const TRACE_BATCH_MAX = 1000;
export const TRACE_BATCH_INTERVAL_MS = 100;

/** Collects decisions and sends them in one message per interval; bounded. */
export class DecisionBatcher {
  private batch: Decision[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (decisions: Decision[], dropped: number) => void,
    readonly max = TRACE_BATCH_MAX,
    readonly intervalMs = TRACE_BATCH_INTERVAL_MS,
  ) {}

  push(d: Decision): void {
    if (this.batch.length >= this.max) this.dropped++;
    else this.batch.push(d);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Sends what is held now. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0 && this.dropped === 0) return;
    const batch = this.batch;
    const dropped = this.dropped;
    this.batch = [];
    this.dropped = 0;
    this.send(batch, dropped);
  }
}
