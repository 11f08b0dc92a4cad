/**
 * Token buckets: `burst` at once, then `perSecond` on average. A keyed set of them holds at
 * most `maxKeys` buckets, so that many sources cannot grow it without bound.
 */

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes one token from `key`'s bucket at time `now` (ms); false when it is empty. */
  take(key: string, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    return takeFrom(bucket, now, this.burst, this.perSecond);
  }

  /** A bucket not in any map (one per connection, kept by its owner). */
  bucket(now: number): Bucket {
    return { tokens: this.burst, at: now };
  }

  /** Takes one token from a bucket made by bucket(). */
  takeFrom(bucket: Bucket, now: number): boolean {
    return takeFrom(bucket, now, this.burst, this.perSecond);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Forgets full buckets (a new one is the same); if that is not enough, the oldest half. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(key);
    }
    if (this.buckets.size < this.maxKeys) return;
    let drop = Math.ceil(this.buckets.size / 2);
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}

function takeFrom(bucket: Bucket, now: number, burst: number, perSecond: number): boolean {
  bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
