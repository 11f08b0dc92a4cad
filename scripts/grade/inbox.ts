/**
 * A queue of what a connection received, read one item at a time with a bounded wait: the
 * item, "closed" once the connection is gone and the queue empty, or "timeout". Shared by the
 * packet and HTTP connections of the grader.
 */

export type Next<T> = { kind: 'item'; item: T } | { kind: 'closed' } | { kind: 'timeout' };

export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((next: Next<T>) => void) | null = null;
  private closed = false;

  /** Queues an item, or hands it to the reader waiting for one. */
  deliver(item: T): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter({ kind: 'item', item });
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
