/**
 * Latencies in, percentiles out. Exact when the number of samples is known and modest (one
 * Float64Array, sorted once at the end); otherwise a log-bucket histogram whose memory does not
 * grow with the run: 1% relative precision from 1 µs to about 3 hours in ~2,400 counters.
 */

export interface LatencyRecorder {
  /** Adds one sample, in ms. */
  record(ms: number): void;
  /** Samples recorded. */
  readonly count: number;
  /** The largest sample, exactly; 0 when there is none. */
  readonly max: number;
  /** The sample at fraction p (0..1) by nearest rank; 0 when there is none. */
  percentile(p: number): number;
}

/** Keeps every sample; samples beyond the capacity given are dropped. */
export class ExactLatencies implements LatencyRecorder {
  private readonly samples: Float64Array;
  private n = 0;
  private largest = 0;
  private sorted = false;

  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    if (ms > this.largest) this.largest = ms;
    if (this.n === this.samples.length) return;
    this.samples[this.n++] = ms;
    this.sorted = false;
  }

  get count(): number {
    return this.n;
  }

  get max(): number {
    return this.largest;
  }

  percentile(p: number): number {
    if (this.n === 0) return 0;
    const view = this.samples.subarray(0, this.n);
    if (!this.sorted) {
      view.sort();
      this.sorted = true;
    }
    return view[rank(p, this.n)]!;
  }
}

const MIN_MS = 0.001;
const GROWTH = 1.01;
const BUCKETS = Math.ceil(Math.log(1e7 / MIN_MS) / Math.log(GROWTH)) + 1;

/** Counts samples in buckets that grow by 1% each; reports a bucket by its geometric middle. */
export class LatencyHistogram implements LatencyRecorder {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private largest = 0;

  record(ms: number): void {
    if (ms > this.largest) this.largest = ms;
    this.counts[bucketOf(ms)]!++;
    this.n++;
  }

  get count(): number {
    return this.n;
  }

  get max(): number {
    return this.largest;
  }

  percentile(p: number): number {
    if (this.n === 0) return 0;
    const target = rank(p, this.n) + 1;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.min(this.largest, i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5));
    }
    return this.largest;
  }
}

/** Exact for a known count up to `maxExact`, a histogram otherwise. */
export function latencyRecorder(expectedCount: number | undefined, maxExact: number): LatencyRecorder {
  return expectedCount !== undefined && expectedCount <= maxExact ? new ExactLatencies(expectedCount) : new LatencyHistogram();
}

/** Index of the nearest-rank sample for fraction p among n sorted samples. */
function rank(p: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
}

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
}
