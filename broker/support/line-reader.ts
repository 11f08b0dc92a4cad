/**
 * Lines in: the JSON objects a socket sends, one a line, framed by the `ndjson` package. A bad
 * line is skipped and never throws; anything that breaks the framing itself (a line longer than
 * the limit, a bare `null` line, which ndjson would take for the end of the stream) closes the
 * socket instead of leaving it half-alive.
 */
import type { Socket } from 'node:net';
import ndjson, { type ParseOptions } from 'ndjson';

/** ndjson hands its options to split2, which also understands a line-length limit. */
interface SplitOptions extends ParseOptions {
  maxLength?: number;
}

/** Lines longer than this (in characters) close the connection: 16 Mi, well above any packet. */
export const DEFAULT_MAX_LINE_LENGTH = 16 * 1024 * 1024;

export interface LineReaderOptions {
  /** Longest line accepted, in characters. */
  maxLineLength?: number;
  /** Called when the framing fails and the socket is being destroyed. */
  onFramingError?: (err: Error) => void;
}

export class LineReader {
  private readonly parser: ReturnType<typeof ndjson.parse>;

  /**
   * Starts reading at once.
   * @param onObject called with each line that parses to a JSON object (arrays and scalars are skipped).
   */
  constructor(
    socket: Socket,
    onObject: (packet: Record<string, unknown>) => void,
    options: LineReaderOptions = {},
  ) {
    const splitOptions: SplitOptions = { strict: false, maxLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH };
    this.parser = ndjson.parse(splitOptions);
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      options.onFramingError?.(err);
      socket.destroy();
    };
    this.parser.on('data', (value: unknown) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) onObject(value as Record<string, unknown>);
    });
    this.parser.on('error', fail);
    this.parser.on('end', () => {
      // The parser normally ends because the socket did; ending first means a `null` line.
      if (!socket.readableEnded) fail(new Error('the stream carried a bare null line'));
    });
    socket.pipe(this.parser);
  }

  /** Stops delivering objects; the socket stops being read once the parser's buffer fills. */
  pause(): void {
    this.parser.pause();
  }

  /** Delivers objects again after pause(). */
  resume(): void {
    this.parser.resume();
  }
}
