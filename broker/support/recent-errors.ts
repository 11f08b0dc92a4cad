/**
 * The last few error answers, for the dashboard: a fixed ring of slots overwritten in place,
 * so that recording an error (even in a storm of them) allocates nothing.
 */

export interface ErrorEvent {
  /** When it happened (ms since the epoch). */
  at: number;
  code: string;
  /** The policy of the packet or request, when it was known. */
  policy: number | null;
  message: string;
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
    const slot = this.slots[this.next];
    if (slot === undefined) {
      this.slots.push({ at, code, policy: policy ?? null, message });
    } else {
      slot.at = at;
      slot.code = code;
      slot.policy = policy ?? null;
      slot.message = message;
    }
    this.next = (this.next + 1) % this.capacity;
    this.total++;
  }

  /** Copies of the recorded errors, newest first. */
  list(): ErrorEvent[] {
    const out: ErrorEvent[] = [];
    const n = this.slots.length;
    for (let k = 1; k <= n; k++) out.push({ ...this.slots[(this.next - k + n) % n]! });
    return out;
  }
}
