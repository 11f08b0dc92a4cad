/**
 * Lines out, batched: every line queued for one socket during a turn of the event loop goes out
 * in a single write. A chunk of pipelined packets becomes one syscall per peer instead of one
 * per packet. All writers share one scheduled flush, run by setImmediate: after every socket
 * that was readable in this turn has been handled, so the replies of several servers to one
 * client leave together (process.nextTick would flush after each socket's read).
 */
import type { Socket } from 'node:net';

const dirty: LineWriter[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // A flush may queue more lines (an error reply, say); the loop picks them up.
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

export class LineWriter {
  private buffered = '';
  /** What was queued before the text in `buffered`, when bytes were queued this turn (writeSpliced); else undefined. */
  private parts: Array<string | Buffer> | undefined = undefined;

  /**
   * @param socket where the lines go.
   * @param afterWrite called after each write with socket.write's result: false means the
   *   socket's buffer is full and the owner should stop reading its inputs until 'drain'.
   */
  constructor(
    private readonly socket: Socket,
    private readonly afterWrite?: (accepted: boolean) => void,
  ) {}

  /** Queues one line (which must end in "\n") for the flush at the end of this turn. */
  write(line: string): void {
    if (this.buffered.length === 0 && this.parts === undefined) this.schedule();
    this.buffered += line;
  }

  /**
   * Queues one line made of `head`, then `bytes` as they are, then `tail` (which must end in
   * "\n"): long bytes reach the socket without being copied into a string and encoded again.
   */
  writeSpliced(head: string, bytes: Buffer, tail: string): void {
    if (this.buffered.length === 0 && this.parts === undefined) this.schedule();
    (this.parts ??= []).push(this.buffered + head, bytes);
    this.buffered = tail;
  }

  /** Hands everything queued to the socket now (one write, or one writev with bytes); lines for a closed socket are dropped. */
  flush(): void {
    if (this.buffered.length === 0 && this.parts === undefined) return;
    const data = this.buffered;
    const parts = this.parts;
    this.buffered = '';
    this.parts = undefined;
    if (this.socket.destroyed || !this.socket.writable) return;
    let accepted: boolean;
    if (parts === undefined) {
      accepted = this.socket.write(data);
    } else {
      this.socket.cork();
      for (const part of parts) if (part.length > 0) this.socket.write(part);
      accepted = this.socket.write(data);
      this.socket.uncork();
    }
    this.afterWrite?.(accepted);
  }

  private schedule(): void {
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }
}
