/**
 * Bytes in, HTTP/1.1 responses out, with no socket in sight: what the grader reads from an HTTP
 * proxy. It frames bodies by Content-Length, by chunked encoding, or by the end of the
 * connection, skips interim (1xx) responses, and reports anything it cannot frame as an error
 * instead of guessing. Enough for grading; not a general client.
 *
 * Bounded: a head over 64 KiB or a body over `maxBodyBytes` (1 MiB by default) is an error
 * ("response too large") and nothing more is buffered, whatever Content-Length says or however
 * long the peer keeps sending.
 */

export interface Response {
  status: number;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const MAX_HEAD_BYTES = 64 * 1024;
/** The largest body the grader reads; its own backends' answers are a few hundred bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

type State =
  | { phase: 'head' }
  | { phase: 'length'; response: Response; remaining: number; parts: Buffer[]; size: number }
  | { phase: 'chunk-size'; response: Response; parts: Buffer[]; size: number }
  | { phase: 'chunk-data'; response: Response; remaining: number; parts: Buffer[]; size: number }
  | { phase: 'trailers'; response: Response; parts: Buffer[]; size: number }
  | { phase: 'until-close'; response: Response; parts: Buffer[]; size: number }
  | { phase: 'broken' };

export class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private state: State = { phase: 'head' };

  constructor(
    private readonly onResponse: (response: Response) => void,
    private readonly onError: (message: string) => void,
    private readonly maxBodyBytes = MAX_BODY_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.state.phase === 'broken') return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.state.phase === 'head' && this.buffer.length > MAX_HEAD_BYTES + this.maxBodyBytes) {
      // Pipelined heads and bodies queue here at most this long before they are read.
      this.fail('response too large');
      return;
    }
    while (this.step()) {
      // each step consumes bytes or changes state
    }
  }

  /** The connection ended: a close-delimited body is complete; anything else half-read is an error. */
  end(): void {
    const state = this.state;
    if (state.phase === 'until-close') {
      state.parts.push(this.buffer);
      this.finish(state.response, state.parts);
    } else if (state.phase !== 'head' && state.phase !== 'broken') {
      this.fail('connection closed in the middle of a response body');
    } else if (state.phase === 'head' && this.buffer.length > 0) {
      this.fail('connection closed in the middle of a response head');
    }
  }

  /** One parsing step; false when more bytes are needed. */
  private step(): boolean {
    const state = this.state;
    switch (state.phase) {
      case 'head':
        return this.readHead();
      case 'length': {
        if (this.buffer.length === 0 && state.remaining > 0) return false;
        const take = Math.min(state.remaining, this.buffer.length);
        if (!this.keep(state, this.buffer.subarray(0, take))) return false;
        this.buffer = this.buffer.subarray(take);
        state.remaining -= take;
        if (state.remaining > 0) return false;
        this.finish(state.response, state.parts);
        return true;
      }
      case 'chunk-size': {
        const eol = this.buffer.indexOf(CRLF);
        if (eol === -1) return false;
        const size = parseInt(this.buffer.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
        this.buffer = this.buffer.subarray(eol + 2);
        if (!Number.isSafeInteger(size) || size < 0) return this.fail('bad chunk size');
        const { response, parts } = state;
        this.state = size === 0 ? { phase: 'trailers', response, parts, size: state.size } : { phase: 'chunk-data', response, remaining: size, parts, size: state.size };
        return true;
      }
      case 'chunk-data': {
        if (state.remaining > 0) {
          const take = Math.min(state.remaining, this.buffer.length);
          if (take === 0) return false;
          if (!this.keep(state, this.buffer.subarray(0, take))) return false;
          this.buffer = this.buffer.subarray(take);
          state.remaining -= take;
          if (state.remaining > 0) return false;
        }
        if (this.buffer.length < 2) return false;
        this.buffer = this.buffer.subarray(2);
        this.state = { phase: 'chunk-size', response: state.response, parts: state.parts, size: state.size };
        return true;
      }
      case 'trailers': {
        const eol = this.buffer.indexOf(CRLF);
        if (eol === -1) return false;
        this.buffer = this.buffer.subarray(eol + 2);
        if (eol === 0) this.finish(state.response, state.parts);
        return true;
      }
      case 'until-close':
        if (this.buffer.length === 0) return false;
        if (!this.keep(state, this.buffer)) return false;
        this.buffer = Buffer.alloc(0);
        return false;
      case 'broken':
        return false;
    }
  }

  private readHead(): boolean {
    const end = this.buffer.indexOf(HEAD_END);
    if (end === -1) {
      if (this.buffer.length > MAX_HEAD_BYTES) this.fail('response head too long');
      return false;
    }
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    this.buffer = this.buffer.subarray(end + 4);
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (match === null) return this.fail(`not an HTTP/1.x status line: ${lines[0]!.slice(0, 60)}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) return this.fail(`bad header line: ${line.slice(0, 60)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    if (status < 200) return true; // interim: 100 Continue, 103 Early Hints
    const response: Response = { status, headers, body: Buffer.alloc(0) };
    if (status === 204 || status === 304) {
      this.onResponse(response);
      return true;
    }
    if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      this.state = { phase: 'chunk-size', response, parts: [], size: 0 };
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0) return this.fail(`bad Content-Length: ${headers['content-length']}`);
      if (length > this.maxBodyBytes) return this.fail(`response too large (Content-Length ${length}, over ${this.maxBodyBytes} bytes)`);
      this.state = { phase: 'length', response, remaining: length, parts: [], size: 0 };
    } else {
      this.state = { phase: 'until-close', response, parts: [], size: 0 };
    }
    return true;
  }

  /** Keeps body bytes, or fails once the body would outgrow the limit. */
  private keep(state: { parts: Buffer[]; size: number }, bytes: Buffer): boolean {
    state.size += bytes.length;
    if (state.size > this.maxBodyBytes) return this.fail(`response too large (a body over ${this.maxBodyBytes} bytes)`);
    state.parts.push(bytes);
    return true;
  }

  private finish(response: Response, parts: Buffer[]): void {
    response.body = Buffer.concat(parts);
    this.state = { phase: 'head' };
    this.onResponse(response);
  }

  private fail(message: string): false {
    this.state = { phase: 'broken' };
    this.buffer = Buffer.alloc(0);
    this.onError(message);
    return false;
  }
}
