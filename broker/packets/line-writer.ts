/**
 * Batches the lines written to one socket during an event-loop turn into one write: a chunk
 * of pipelined packets becomes one syscall per peer instead of one per packet.
 */
import type { Socket } from 'node:net';

const dirty: LineWriter[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // A flush may queue more lines (e.g. an error reply); they are picked up by the loop.
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

export class LineWriter {
  private pending = '';

  constructor(
    private readonly socket: Socket,
    /** Called when the socket's buffer is full: the caller should stop reading its inputs. */
    private readonly onBackpressure: () => void = () => undefined,
  ) {}

  /** Queues a line (ending in "\n") for the next flush. */
  write(line: string): void {
    if (this.pending.length === 0) {
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushAll);
      }
    }
    this.pending += line;
  }

  /** Writes what is queued now. */
  flush(): void {
    if (this.pending.length === 0) return;
    const data = this.pending;
    this.pending = '';
    if (this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(data)) this.onBackpressure();
  }
}
