/**
 * Bytes in, JSON texts out: the framing of the wire protocol, with no socket in sight.
 *
 * A frame is one line ending in "\n" (NDJSON), or a complete JSON object with no newline after
 * it, which is how the classic lab scripts send: one object, then they wait for the answer.
 * The second case is found by tracking brace depth over the unterminated tail only, so a
 * newline-delimited stream is split with Buffer.indexOf and never scanned byte by byte. The
 * tail is scanned only when its last non-blank byte is a closing brace (or it outgrows the
 * limit): a classic object can end nowhere else, and a long NDJSON line split over several
 * reads then costs no JS loop over its bytes before its newline arrives.
 *
 * No more than `maxFrameBytes` are ever buffered: a longer frame is reported once as
 * oversized and its bytes are skipped up to the next newline (or the end of the object).
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The tail of a decoder with nothing buffered: shared, never written to (tails are replaced, not filled). */
const EMPTY = Buffer.alloc(0);

export interface FrameSink {
  /**
   * A complete frame, as text, and where its bytes are: `from[start, end)`, bytes as they were
   * read and never written to afterwards (a sink that keeps them takes a subarray; most only
   * want the text, so no view is made per frame). Whitespace-only lines are never reported.
   */
  frame(text: string, from: Buffer, start: number, end: number): void;
  /** A frame longer than the limit began; its bytes are being discarded. */
  oversized(limit: number): void;
}

export class FrameDecoder {
  /** Buffered bytes of the frame in progress (never more than the limit). */
  private tail: Buffer = EMPTY;
  /** Scan state of the unterminated tail: how far it was scanned and what it saw. */
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /**
   * True while skipping the rest of an oversized frame: up to the next newline, or, when it is
   * an object (depth > 0), up to its closing brace, whichever comes first.
   */
  private discarding = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /** Feeds bytes; calls the sink for each frame they complete. */
  push(chunk: Buffer): void {
    let start = 0;
    if (this.discarding) {
      start = this.skipDiscarded(chunk);
      if (start === -1) return;
    }
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      if (this.tail.length > 0) {
        const line = this.tail.length + (nl - start) > this.maxFrameBytes ? null : Buffer.concat([this.tail, chunk.subarray(start, nl)]);
        this.resetTail();
        if (line === null) this.sink.oversized(this.maxFrameBytes);
        else this.emitLine(line, 0, line.length);
      } else if (nl - start > this.maxFrameBytes) {
        this.sink.oversized(this.maxFrameBytes);
      } else {
        this.emitLine(chunk, start, nl);
      }
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.appendTail(chunk.subarray(start));
  }

  /** Bytes held for an unfinished frame; for tests and memory accounting. */
  get bufferedBytes(): number {
    return this.tail.length;
  }

  /** Bytes of the tail the object scan has stepped over; for tests of the lazy scan. */
  get scannedBytes(): number {
    return this.scanned;
  }

  /** True while a frame has begun and not ended (buffered, or an oversized one being skipped). */
  get midFrame(): boolean {
    return this.tail.length > 0 || this.discarding;
  }

  private emitLine(buf: Buffer, start: number, end: number): void {
    // A frame starts at its first non-blank byte and ends at its last one (so "\r\n" and
    // trailing blanks frame as they would after an unterminated object).
    while (end > start && isBlank(buf[end - 1]!)) end--;
    while (start < end && isBlank(buf[start]!)) start++;
    if (start === end) return;
    this.sink.frame(buf.toString('utf8', start, end), buf, start, end);
  }

  /** Adds unterminated bytes and emits any complete top-level objects they hold. */
  private appendTail(bytes: Buffer): void {
    this.tail = this.tail.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.tail, bytes]);
    if (this.tail.length <= this.maxFrameBytes && !mayEndObject(this.tail)) return;
    let frameStart = 0;
    // Leading blanks before an object are not part of it.
    if (this.scanned === 0) {
      while (frameStart < this.tail.length && isBlank(this.tail[frameStart]!)) frameStart++;
      this.scanned = frameStart;
    }
    // depth -1: a line that is not an object, framed only at its newline: nothing to scan.
    for (let i = this.scanned; this.depth >= 0 && i < this.tail.length; i++) {
      const byte = this.tail[i]!;
      if (this.depth === 0 && !this.inString) {
        if (isBlank(byte) && i === frameStart) {
          frameStart++;
          continue;
        }
        if (byte !== OPEN_BRACE) {
          // Not an object: wait for the newline that ends the line, scan no further.
          this.scanned = this.tail.length;
          this.depth = -1;
          break;
        }
      }
      if (this.scanObjectByte(byte)) {
        // One chunk may hold a whole object over the limit: it is refused like any other.
        if (i + 1 - frameStart > this.maxFrameBytes) this.sink.oversized(this.maxFrameBytes);
        else this.sink.frame(this.tail.toString('utf8', frameStart, i + 1), this.tail, frameStart, i + 1);
        frameStart = i + 1;
      }
    }
    if (this.depth >= 0) this.scanned = this.tail.length;
    if (frameStart > 0) {
      this.tail = this.tail.subarray(frameStart);
      this.scanned -= frameStart;
      if (this.tail.length === 0) this.resetTail();
    }
    if (this.tail.length > this.maxFrameBytes) {
      // Inside an object, keep its scan state to find where it ends; a line just waits for "\n".
      if (this.depth > 0) {
        this.tail = EMPTY;
        this.scanned = 0;
      } else {
        this.resetTail();
      }
      this.discarding = true;
      this.sink.oversized(this.maxFrameBytes);
    }
  }

  /** Steps the object scan over one byte; true when it closed the top-level object. */
  private scanObjectByte(byte: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (byte === BACKSLASH) this.escaped = true;
      else if (byte === QUOTE) this.inString = false;
    } else if (byte === QUOTE) {
      this.inString = true;
    } else if (byte === OPEN_BRACE) {
      this.depth++;
    } else if (byte === CLOSE_BRACE) {
      this.depth--;
      return this.depth === 0;
    }
    return false;
  }

  /**
   * Skips the discarded frame's bytes in `chunk`: to the end of the object being discarded or
   * to the next newline. Returns where decoding resumes, or -1 when the whole chunk was skipped.
   */
  private skipDiscarded(chunk: Buffer): number {
    const nl = chunk.indexOf(NEWLINE);
    if (this.depth > 0) {
      const end = nl === -1 ? chunk.length : nl;
      for (let i = 0; i < end; i++) {
        if (this.scanObjectByte(chunk[i]!)) {
          this.discarding = false;
          this.resetTail();
          return i + 1;
        }
      }
    }
    if (nl === -1) return -1;
    this.discarding = false;
    this.resetTail();
    return nl + 1;
  }

  private resetTail(): void {
    this.tail = EMPTY;
    this.scanned = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}

/**
 * False when no object can be complete at the end of `tail`: its last non-blank byte is not a
 * closing brace. True for an all-blank tail, so that the scan drops it.
 */
function mayEndObject(tail: Buffer): boolean {
  let i = tail.length - 1;
  while (i >= 0 && isBlank(tail[i]!)) i--;
  return i < 0 || tail[i] === CLOSE_BRACE;
}

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === CARRIAGE_RETURN || byte === NEWLINE;
}
