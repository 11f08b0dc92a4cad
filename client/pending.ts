/**
 * The sends waiting for an answer on one connection, by seq, with their deadlines. One timer
 * serves them all: sends share one timeout, so the oldest entry (the Map keeps insertion order)
 * always expires first, and the timer is only ever armed for it.
 */
import { performance } from 'node:perf_hooks';
import type { Seq } from '../broker/protocol/packet-types.js';
import { ClientError, ClientErrorCode } from './errors.js';

interface Pending<T> {
  resolve: (answer: T) => void;
  reject: (err: Error) => void;
  deadline: number;
}

export class PendingRequests<T> {
  private readonly waiting = new Map<Seq, Pending<T>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly timeoutMs: number) {}

  /** Sends waiting. */
  get size(): number {
    return this.waiting.size;
  }

  /** True when an answer for seq is awaited. */
  has(seq: Seq): boolean {
    return this.waiting.has(seq);
  }

  /** Starts waiting for seq's answer; false when seq is already waited for. */
  add(seq: Seq, resolve: (answer: T) => void, reject: (err: Error) => void): boolean {
    if (this.waiting.has(seq)) return false;
    const deadline = performance.now() + this.timeoutMs;
    this.waiting.set(seq, { resolve, reject, deadline });
    if (this.timer === null) this.arm(deadline);
    return true;
  }

  /** Resolves seq's send with the answer; false when nobody waits for seq. */
  settle(seq: Seq, answer: T): boolean {
    const pending = this.waiting.get(seq);
    if (pending === undefined) return false;
    this.waiting.delete(seq);
    pending.resolve(answer);
    return true;
  }

  /** Resolves the one send waiting, when there is exactly one; for answers that carry no seq. */
  settleOnly(answer: T): boolean {
    if (this.waiting.size !== 1) return false;
    const [seq] = this.waiting.keys();
    return this.settle(seq!, answer);
  }

  /** Rejects every waiting send with err. */
  failAll(err: Error): void {
    this.disarm();
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const pending of all) pending.reject(err);
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
    for (const [seq, pending] of this.waiting) {
      if (pending.deadline > now) {
        this.arm(pending.deadline);
        return;
      }
      this.waiting.delete(seq);
      pending.reject(new ClientError(ClientErrorCode.TIMEOUT_LOCAL, `no answer to seq ${String(seq)} within ${this.timeoutMs} ms`));
    }
  };
}
