/**
 * A latency histogram with fixed buckets, cheap enough for the packet path: observe() is a
 * short scan over a dozen bounds and three additions, with no allocation and no labels. The
 * metrics page exports it in Prometheus form (cumulative buckets, sum, count) at scrape time.
 */

/** Upper bounds of the buckets, in milliseconds (the +Inf bucket is implied). */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export class LatencyHistogram {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  /** Sum of all observations, in milliseconds. */
  sumMs = 0;
  count = 0;

  /** Records one duration in milliseconds. */
  observe(ms: number): void {
    const bounds = LATENCY_BOUNDS_MS;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.count++;
  }

  /** Adds another histogram's observations (same bounds) to this one. */
  merge(other: { readonly counts: ArrayLike<number>; readonly sumMs: number; readonly count: number }): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.sumMs += other.sumMs;
    this.count += other.count;
  }

  /**
   * The q-quantile (0..1) estimated from the buckets, in milliseconds, interpolating inside the
   * bucket it falls in; undefined before the first observation.
   */
  quantileMs(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const n = this.counts[i]!;
      if (n > 0 && seen + n >= rank) {
        const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
        const upper = i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i]! : lower;
        return lower + (upper - lower) * ((rank - seen) / n);
      }
      seen += n;
    }
    return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
  }
}
