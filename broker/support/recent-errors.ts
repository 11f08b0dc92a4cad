/**
 * The last few error answers, for the dashboard: a fixed ring of slots overwritten in place,
 * so that recording an error (even in a storm of them) allocates nothing. An error the same as
 * the newest one (code, policy and message) counts in that slot instead of taking another, so a
 * storm of one error is one entry with its count, and the ring keeps the different ones.
 */

export interface ErrorEvent {
  /** When it happened (ms since the epoch). */
  at: number;
  code: string;
  /** The policy of the packet or request, when it was known. */
  policy: number | null;
  message: string;
  /** How many times in a row it happened; `at` is the last time. */
  count: number;
}

export class RecentErrors {
  private readonly slots: ErrorEvent[];
  private next = 0;
  /** Errors recorded in all, including those overwritten. */
  total = 0;

  constructor(readonly capacity = 50) {
    this.slots = [];
  }

  /** Records one error; the oldest is overwritten once the ring is full. */
  add(code: string, policy: number | undefined, message: string): void {
    const at = Date.now();
    this.total++;
    const newest = this.slots[(this.next - 1 + this.capacity) % this.capacity];
    if (newest !== undefined && newest.code === code && newest.policy === (policy ?? null) && newest.message === message) {
      newest.at = at;
      newest.count++;
      return;
    }
    const slot = this.slots[this.next];
    if (slot === undefined) {
      this.slots.push({ at, code, policy: policy ?? null, message, count: 1 });
    } else {
      slot.at = at;
      slot.code = code;
      slot.policy = policy ?? null;
      slot.message = message;
      slot.count = 1;
    }
    this.next = (this.next + 1) % this.capacity;
  }

  /**
   * One ring of several rings' lists (each newest first, as list() gives), as one ring would
   * have recorded them: newest first, neighbours that are the same error folded into one row
   * with their counts added (a storm seen by several --workers processes is one row).
   */
  static merge(lists: readonly (readonly ErrorEvent[])[], capacity = 50): RecentErrors {
    const events = lists.flat().sort((a, b) => b.at - a.at);
    const rows: ErrorEvent[] = [];
    for (const e of events) {
      const last = rows[rows.length - 1];
      if (last !== undefined && last.code === e.code && last.policy === e.policy && last.message === e.message) last.count += e.count;
      else rows.push({ ...e });
    }
    return RecentErrors.of(rows, capacity);
  }

  /** A ring holding `rows` (newest first). */
  static of(rows: readonly ErrorEvent[], capacity = 50): RecentErrors {
    const ring = new RecentErrors(capacity);
    for (let i = Math.min(rows.length, capacity) - 1; i >= 0; i--) {
      ring.slots.push({ ...rows[i]! });
      ring.total += rows[i]!.count;
    }
    ring.next = ring.slots.length % capacity;
    return ring;
  }

  /** Copies of the recorded errors, newest first. */
  list(): ErrorEvent[] {
    const out: ErrorEvent[] = [];
    const n = this.slots.length;
    for (let k = 1; k <= n; k++) out.push({ ...this.slots[(this.next - k + n) % n]! });
    return out;
  }
}
