/**
 * What a submission printed, bounded: the last `maxBytes` of its stdout and stderr together, in
 * the order they arrived, and how much it printed in all. A program that prints for ever costs
 * the grader `maxBytes`, not its output.
 */

/** How much of a submission's output is kept by default: enough for a Python traceback. */
export const OUTPUT_TAIL_BYTES = 16 * 1024;

export class OutputTail {
  private chunks: Buffer[] = [];
  private kept = 0;
  /** Bytes printed in all, kept or not. */
  total = 0;

  constructor(private readonly maxBytes = OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (chunk.length >= this.maxBytes) {
      this.chunks = [chunk.subarray(chunk.length - this.maxBytes)];
      this.kept = this.maxBytes;
      return;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept - this.chunks[0]!.length >= this.maxBytes) this.kept -= this.chunks.shift()!.length;
  }

  /** The kept output as text; when output was lost before it, its first (cut) line is dropped, if another follows. */
  text(): string {
    let text = Buffer.concat(this.chunks).subarray(-this.maxBytes).toString('utf8');
    if (this.total > this.maxBytes) text = text.slice(text.indexOf('\n') + 1);
    return text;
  }

  /** The last `count` non-empty lines, each cut to `width` characters. */
  lastLines(count: number, width = 200): string[] {
    return this.text()
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '')
      .slice(-count)
      .map((line) => (line.length > width ? `${line.slice(0, width)}…` : line));
  }
}
