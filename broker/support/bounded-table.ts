/**
 * Counters by key that cannot grow without bound: past `cap` entries, the oldest ones whose key
 * is no longer live (a policy or server that is gone) are folded into one `other` entry and
 * forgotten. Totals stay whole (a counter summed over all entries never goes down); only the
 * detail of what is gone is lost. Live entries are never folded: they are bounded by what is
 * registered.
 */
export class BoundedTable<K, V> {
  private readonly entries = new Map<K, V>();
  /** Everything forgotten, summed; made on the first fold. */
  private otherEntry: V | undefined;
  /** Entries folded into `other` so far. */
  forgotten = 0;

  constructor(
    readonly cap: number,
    private readonly make: (key: K | undefined) => V,
    private readonly fold: (into: V, from: V) => void,
    /** True while the key's subject exists (its entry may not be folded). */
    private readonly isLive: (key: K) => boolean = () => false,
  ) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** The entry of `key`, made (and the table trimmed) when new. */
  entry(key: K): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = this.make(key);
      this.entries.set(key, value);
      if (this.entries.size > this.cap) this.trim();
    }
    return value;
  }

  /** The entries kept, oldest first, without `other`. */
  values(): IterableIterator<V> {
    return this.entries.values();
  }

  /** The sum of the forgotten entries; undefined while none was. */
  get other(): V | undefined {
    return this.otherEntry;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Folds the oldest entries that are not live until at most `cap` are kept (live ones move to the back). */
  trim(): void {
    let visits = this.entries.size;
    for (const [key, value] of this.entries) {
      if (this.entries.size <= this.cap || visits-- <= 0) return;
      this.entries.delete(key);
      if (this.isLive(key)) {
        this.entries.set(key, value);
        continue;
      }
      this.fold((this.otherEntry ??= this.make(undefined)), value);
      this.forgotten++;
    }
  }
}
