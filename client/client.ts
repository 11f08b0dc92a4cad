/**
 * A connection to the broker for clients: send a packet, get a promise of its answer. Sends are
 * pipelined on one connection and matched to answers by `seq`; lines written in one turn of
 * the event loop leave in one write.
 */
import net, { type Socket } from 'node:net';
import { LineReader } from '../broker/support/line-reader.js';
import { LineWriter } from '../broker/support/line-writer.js';
import { silentLogger, type Logger } from '../broker/support/logger.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { PendingRequests, type Seq } from './pending.js';
import { CLIENT_DEFAULTS } from './options.js';

/** A type 2 packet: a server's reply, relayed by the broker. */
export interface ReplyAnswer {
  type: 2;
  /** The id of the server that answered. */
  srcid: number;
  destid: number;
  payload: string;
  payloadsize?: number;
  seq?: Seq;
}

/** A type 3 packet: the broker's refusal or failure, with a stable code. */
export interface ErrorAnswer {
  type: 3;
  code: string;
  message: string;
  seq?: Seq;
}

/** Any other packet, answering a packet that was not type 0 (e.g. a type 4 for a registration). */
export interface OtherAnswer {
  type: 0 | 1 | 4 | 5 | 6;
  [field: string]: unknown;
}

/** What a send resolves with: the broker's answer line, parsed. */
export type Answer = ReplyAnswer | ErrorAnswer | OtherAnswer;

export interface ClientOptions {
  /** Broker host (default 127.0.0.1). */
  host?: string;
  /** Broker packet port (default 2100). */
  port?: number;
  /** How long a send waits for its answer before rejecting with TIMEOUT_LOCAL, in ms (default 10000). */
  timeoutMs?: number;
  /** How long connect() may take, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Longest answer line accepted, in characters; a longer one closes the connection. */
  maxLineLength?: number;
  logger?: Logger;
}

/** How long close() lets the broker take to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class BrokerClient {
  private readonly pending: PendingRequests<Answer>;
  private readonly writer: LineWriter;
  private readonly logger: Logger;
  private nextSeq = 0;
  private closedError: ClientError | null = null;
  private lastSocketError: Error | undefined;

  /**
   * Connects to the broker; rejects with a ClientError of code CONNECT_FAILED (its `cause` is
   * the socket error, e.g. ECONNREFUSED) when it cannot.
   */
  static connect(options: ClientOptions = {}): Promise<BrokerClient> {
    const host = options.host ?? CLIENT_DEFAULTS.host;
    const port = options.port ?? CLIENT_DEFAULTS.port;
    const connectTimeoutMs = options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ClientError(ClientErrorCode.CONNECT_FAILED, `cannot connect to the broker at ${host}:${port}: ${describeSocketError(err)}`, { cause: err }));
      };
      const timer = setTimeout(() => fail(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new BrokerClient(socket, options));
      });
    });
  }

  private constructor(
    private readonly socket: Socket,
    options: ClientOptions,
  ) {
    this.logger = options.logger ?? silentLogger();
    this.pending = new PendingRequests<Answer>(options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs);
    this.writer = new LineWriter(socket);
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.lastSocketError = err;
    });
    socket.once('close', () => this.onClose());
    new LineReader(socket, (packet) => this.onAnswer(packet), {
      maxLineLength: options.maxLineLength,
      onFramingError: (err) => this.logger.warn('unreadable line from the broker, closing', { error: err.message }),
    });
  }

  /** Sends waiting for their answer. */
  get inflight(): number {
    return this.pending.size;
  }

  /** True once the connection has closed; every send then rejects with CONNECTION_CLOSED. */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /**
   * Sends one packet, as given, adding a numeric `seq` unless it has its own, and resolves with
   * the broker's answer to it (a type 2 reply or a type 3 error alike). Rejects with a
   * ClientError: TIMEOUT_LOCAL, CONNECTION_CLOSED, DUPLICATE_SEQ or INVALID_SEQ.
   */
  send(packet: object): Promise<Answer> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const own = (packet as { seq?: unknown }).seq;
    let seq: Seq;
    let line = JSON.stringify(packet);
    if (own === undefined) {
      do seq = ++this.nextSeq;
      while (this.pending.has(seq));
      // Splice the seq in as the last field instead of copying the caller's object.
      line = line.length > 2 ? `${line.slice(0, -1)},"seq":${seq}}` : `{"seq":${seq}}`;
    } else if (typeof own === 'number' || typeof own === 'string') {
      seq = own;
    } else {
      return Promise.reject(new ClientError(ClientErrorCode.INVALID_SEQ, 'a packet\'s seq must be a number or a string'));
    }
    return new Promise<Answer>((resolve, reject) => {
      if (!this.pending.add(seq, resolve, reject)) {
        reject(new ClientError(ClientErrorCode.DUPLICATE_SEQ, `seq ${String(seq)} is already waiting for an answer`));
        return;
      }
      this.writer.write(line + '\n');
    });
  }

  /**
   * Writes what is queued and closes the connection. Answers arriving meanwhile still settle
   * their sends; the rest reject with CONNECTION_CLOSED. Resolves once the socket is closed.
   */
  close(): Promise<void> {
    const socket = this.socket;
    if (socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      this.writer.flush();
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  private onAnswer(packet: Record<string, unknown>): void {
    const seq = packet.seq;
    const answer = packet as unknown as Answer;
    if (typeof seq === 'number' || typeof seq === 'string') {
      if (!this.pending.settle(seq, answer)) this.logger.debug('an answer for no waiting send', { seq });
      return;
    }
    // The broker answers without a seq only when it could not read the packet's; with one
    // send waiting, the answer can only be for it.
    if (!this.pending.settleOnly(answer)) this.logger.debug('an answer without seq, with several sends waiting', { type: packet.type });
  }

  private onClose(): void {
    const cause = this.lastSocketError;
    this.closedError = new ClientError(
      ClientErrorCode.CONNECTION_CLOSED,
      cause === undefined ? 'the connection to the broker closed' : `the connection to the broker closed: ${describeSocketError(cause)}`,
      { cause },
    );
    this.pending.failAll(this.closedError);
  }
}

/** "connection refused (ECONNREFUSED)" rather than "connect ECONNREFUSED 127.0.0.1:2100". */
export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset (ECONNRESET)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${code})`;
    case 'ETIMEDOUT':
      return 'timed out (ETIMEDOUT)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `unreachable (${code})`;
    default:
      return err.message;
  }
}
