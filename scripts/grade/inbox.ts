/**
 * A queue of what a connection received, read one item at a time with a bounded wait: the
 * item, "closed" once the connection is gone and the queue empty, or "timeout". Shared by the
 * packet and HTTP connections of the grader. Bounded: past `capacity` unread items the inbox
 * stops taking more and reports "overflow" once (the connection then closes), so a peer that
 * floods answers no one asked for cannot grow the grader's memory.
 */

export type Next<T> = { kind: 'item'; item: T } | { kind: 'closed' } | { kind: 'timeout' };

export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((next: Next<T>) => void) | null = null;
  private closed = false;

  constructor(
    private readonly capacity = 10_000,
    private readonly onOverflow: () => void = () => undefined,
  ) {}

  /** Queues an item, or hands it to the reader waiting for one. */
  deliver(item: T): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter({ kind: 'item', item });
    } else if (this.items.length >= this.capacity) {
      this.close();
      this.onOverflow();
    } else {
      this.items.push(item);
    }
  }

  /** No more items will come; a waiting reader gets "closed". */
  close(): void {
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.({ kind: 'closed' });
  }

  /** The next item, waiting at most timeoutMs (at most one reader waits at a time). */
  next(timeoutMs: number): Promise<Next<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ kind: 'item', item });
    if (this.closed) return Promise.resolve({ kind: 'closed' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (next) => {
        clearTimeout(timer);
        resolve(next);
      };
    });
  }
}
