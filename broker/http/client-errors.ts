/**
 * Requests Node's HTTP parser refused (malformed, too large, too slow): the connection's
 * requests in flight are dropped; unless a response has begun on it, a short JSON error answer
 * goes out as raw bytes (there is no ServerResponse to write it with); then the connection
 * closes. A failed TLS handshake has nothing to answer in.
 */
import type { Duplex } from 'node:stream';
import type { Counters } from '../routing/counters.js';
import type { Logger } from '../support/logger.js';
import { HttpErrorCode, rawErrorResponse } from './http-errors.js';
import type { Pipeline } from './pipeline.js';

/** How long a socket closed after a malformed request may linger for its answer to be read. */
const ERROR_CLOSE_GRACE_MS = 1000;

export interface ClientErrorSettings {
  readonly httpHeadersTimeoutMs: number;
  readonly httpMaxHeaderBytes: number;
}

export class ClientErrors {
  constructor(
    private readonly stats: Counters,
    private readonly log: Logger,
    private readonly settings: ClientErrorSettings,
    /** True when the listener speaks TLS: a socket without a connection is still in its handshake. */
    private readonly tls: boolean,
  ) {}

  /** Node's `clientError` on `socket`, whose connection (if any) is `connection`. */
  refused(err: NodeJS.ErrnoException, socket: Duplex, connection: Pipeline | undefined): void {
    if (this.tls && connection === undefined) {
      // A failed TLS handshake (plain HTTP on this port, an untrusting or slow client): nothing to answer in.
      this.log.debug('TLS handshake failed', { error: err.message });
      socket.destroy();
      return;
    }
    // The response being written (or just written, its connection closing): once its head is
    // out, a raw answer would corrupt it or follow a last one.
    const responding = connection?.responding() === true;
    connection?.closed();
    if (err.code === 'ECONNRESET' || !socket.writable || responding) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.answer(socket, HttpErrorCode.REQUEST_TIMEOUT, `no complete request head within ${this.settings.httpHeadersTimeoutMs} ms`);
    } else if (err.code === 'HPE_INVALID_VERSION' && wellFormedRequestLine(err)) {
      // A request line of the right shape naming a version Node's parser does not know (HTTP/1.2,
      // 9.9): a version we do not serve, not a malformed request (a bare LF after the version is).
      this.answer(socket, HttpErrorCode.VERSION_NOT_SUPPORTED, 'only HTTP/1.0 and HTTP/1.1 are served');
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      this.answer(socket, HttpErrorCode.BAD_REQUEST, `request head longer than ${this.settings.httpMaxHeaderBytes} bytes`);
    } else {
      const reason = (err as { reason?: unknown }).reason;
      this.answer(socket, HttpErrorCode.BAD_REQUEST, `malformed request: ${typeof reason === 'string' ? reason : err.message}`);
    }
  }

  /** Writes a whole error response on a raw socket and closes it. */
  answer(socket: Duplex, code: HttpErrorCode, message: string): void {
    this.stats.countError(code);
    socket.end(rawErrorResponse(code, message));
    setTimeout(() => socket.destroy(), ERROR_CLOSE_GRACE_MS).unref();
  }
}

/** True when the bytes the parser refused begin with a request line of the form "METHOD target HTTP/d.d" and CRLF. */
function wellFormedRequestLine(err: Error): boolean {
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(raw) && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+ HTTP\/\d\.\d\r\n/.test(raw.toString('latin1', 0, Math.min(raw.length, 8192)));
}
