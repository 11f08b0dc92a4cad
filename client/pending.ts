/**
 * The sends waiting for an answer on one connection, by seq, with their deadlines. One timer
 * serves them all: sends share one timeout, so the oldest send still waiting always expires
 * first, and the timer is only ever armed for it.
 *
 * Not a Map: V8's Map tables, replaced as sends come and go, keep every entry alive through each
 * minor GC (see broker/support/id-table.ts); with a Map here the client's p99 under load was
 * mostly its own GC pauses. The sends are held in IdTables (numbers and strings apart: 5 and "5"
 * are different seqs), and their order in a queue that settled sends leave from the front.
 */
import { performance } from 'node:perf_hooks';
import type { Seq } from '../broker/protocol/packet-types.js';
import { IdTable } from '../broker/support/id-table.js';
import { ClientError, ClientErrorCode } from './errors.js';

interface Pending<T> {
  readonly seq: Seq;
  readonly resolve: (answer: T) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
  settled: boolean;
}

export class PendingRequests<T> {
  private readonly byNumber = new IdTable<Pending<T>>();
  private readonly byText = new IdTable<Pending<T>, string>();
  /** Every send in the order it was added (so of its deadline); settled ones leave from the front. */
  private order: Array<Pending<T> | undefined> = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly timeoutMs: number) {}

  /** Sends waiting. */
  get size(): number {
    return this.byNumber.size + this.byText.size;
  }

  /** True when an answer for seq is awaited. */
  has(seq: Seq): boolean {
    return this.find(seq) !== undefined;
  }

  /** Starts waiting for seq's answer; false when seq is already waited for. */
  add(seq: Seq, resolve: (answer: T) => void, reject: (err: Error) => void): boolean {
    if (this.has(seq)) return false;
    const pending: Pending<T> = { seq, resolve, reject, deadline: performance.now() + this.timeoutMs, settled: false };
    if (typeof seq === 'number') this.byNumber.set(seq, pending);
    else this.byText.set(seq, pending);
    this.order.push(pending);
    if (this.timer === null) this.arm(pending.deadline);
    return true;
  }

  /** Resolves seq's send with the answer; false when nobody waits for seq. */
  settle(seq: Seq, answer: T): boolean {
    const pending = this.take(seq);
    if (pending === undefined) return false;
    pending.resolve(answer);
    return true;
  }

  /** Resolves the one send waiting, when there is exactly one; for answers that carry no seq. */
  settleOnly(answer: T): boolean {
    if (this.size !== 1) return false;
    return this.settle(this.oldest()!.seq, answer);
  }

  /** Rejects every waiting send with err. */
  failAll(err: Error): void {
    this.disarm();
    const all = [...this.byNumber.takeAll(), ...this.byText.takeAll()];
    this.order = [];
    this.head = 0;
    for (const pending of all) pending.reject(err);
  }

  private find(seq: Seq): Pending<T> | undefined {
    return typeof seq === 'number' ? this.byNumber.get(seq) : this.byText.get(seq);
  }

  /** Removes seq's send, and the settled sends now at the front of the order. */
  private take(seq: Seq): Pending<T> | undefined {
    const pending = typeof seq === 'number' ? this.byNumber.take(seq) : this.byText.take(seq);
    if (pending === undefined) return undefined;
    pending.settled = true;
    this.oldest();
    return pending;
  }

  /** The oldest send still waiting; drops the settled ones in front of it. */
  private oldest(): Pending<T> | undefined {
    const order = this.order;
    while (this.head < order.length && order[this.head]!.settled) order[this.head++] = undefined;
    // Compact once the consumed prefix dominates, so the front moves in O(1) amortised.
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
    return this.order[this.head];
  }

  private arm(deadline: number): void {
    // Unref'd: a live socket keeps the process up; an idle timer must not.
    this.timer = setTimeout(this.expire, Math.max(0, deadline - performance.now()) + 1);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly expire = (): void => {
    this.timer = null;
    const now = performance.now();
    for (let pending = this.oldest(); pending !== undefined; pending = this.oldest()) {
      if (pending.deadline > now) {
        this.arm(pending.deadline);
        return;
      }
      this.take(pending.seq);
      pending.reject(new ClientError(ClientErrorCode.TIMEOUT_LOCAL, `no answer to seq ${String(pending.seq)} within ${this.timeoutMs} ms`));
    }
  };
}
