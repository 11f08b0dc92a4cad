/**
 * The routing trace across --workers. HTTP decisions are made in the workers: each worker's
 * Tracer (no logger of its own) hands them to a DecisionBatcher that sends them to the primary,
 * whose Tracer logs them with its own packet decisions, as one trace. A worker's dashboard
 * stream shows the primary's whole trace: while the worker has a stream open it says so, and the
 * primary batches every decision to it; RelayedTrace is what the worker's TraceStream reads.
 * The trace's on/off and sampling live in the primary and are sent to every worker.
 */
import type { Decision } from '../trace/decision.js';
import type { TraceListener, TraceSettings } from '../trace/tracer.js';
import type { TraceSource } from '../trace/trace-stream.js';

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

/** Decisions a worker's stream shows a dashboard that opens it. */
const RECENT = 100;

/** A worker's view of the primary's trace, fed over IPC, for its TraceStream. */
export class RelayedTrace implements TraceSource {
  private current: TraceSettings;
  private readonly listeners = new Set<TraceListener>();
  private readonly recent: Decision[] = [];

  constructor(
    initial: TraceSettings,
    /** Called when the first stream opens (true) and when the last one closes (false). */
    private readonly watch: (watching: boolean) => void,
  ) {
    this.current = initial;
  }

  settings(): TraceSettings {
    return { ...this.current };
  }

  recentDecisions(): Decision[] {
    return this.recent.slice();
  }

  listen(listener: TraceListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.watch(true);
    return () => {
      if (this.listeners.delete(listener) && this.listeners.size === 0) {
        this.watch(false);
        this.recent.length = 0;
      }
    };
  }

  /** The primary's trace was switched. */
  setState(settings: TraceSettings): void {
    this.current = settings;
    for (const l of this.listeners) l.state(settings);
  }

  /** Decisions from the primary. */
  feed(decisions: readonly Decision[]): void {
    for (const d of decisions) {
      this.recent.push(d);
      if (this.recent.length > RECENT) this.recent.shift();
      for (const l of this.listeners) l.decision(d);
    }
  }
}
