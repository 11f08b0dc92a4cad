/**
 * A connection to the broker for clients: send a packet, get a promise of its answer. Sends are
 * pipelined on one connection and matched to answers by `seq`; lines written in one turn of
 * the event loop leave in one write. With `reconnect`, a lost connection is re-established with
 * backoff: sends in flight fail with CONNECTION_CLOSED, later ones wait for the new connection.
 * With `brokers` (other brokers sharing the registry), a lost connection moves to the next
 * broker instead, and the sends that were in flight are sent again there: each still settles
 * once, with the answer of the broker that answered it (docs/scale-out.md).
 */
import net, { type Socket } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { describeError } from '../broker/support/describe-error.js';
import { LineReader } from '../broker/support/line-reader.js';
import { LineWriter } from '../broker/support/line-writer.js';
import { silentLogger, type Logger } from '../broker/support/logger.js';
import { SilenceWatch } from '../broker/support/silence-watch.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { Answer, Seq } from '../broker/protocol/packet-types.js';
import { PendingRequests } from './pending.js';
import { CLIENT_DEFAULTS } from './options.js';

// What a send resolves with: the broker's answer line, parsed. The protocol's own types, under
// the names the client has always exported.
export type { Answer, ReplyPacket as ReplyAnswer, ErrorPacket as ErrorAnswer, OtherAnswer } from '../broker/protocol/packet-types.js';

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
  /**
   * TLS to the broker (one started with --tls-cert/--tls-key): true verifies the broker's
   * certificate against Node's CAs; an object is passed to tls.connect (e.g. `{ ca }`).
   */
  tls?: boolean | ConnectionOptions;
  /**
   * Reconnect when the connection is lost (default false). Sends in flight at that moment
   * reject with CONNECTION_CLOSED (the broker may or may not have routed them); later sends
   * wait for the new connection, within their own timeoutMs. close() stops reconnecting.
   */
  reconnect?: boolean;
  /** First delay before reconnecting, in ms (default 50); it doubles per failed attempt. */
  reconnectMinMs?: number;
  /** Longest delay between reconnection attempts, in ms (default 1000). */
  reconnectMaxMs?: number;
  /**
   * Other brokers sharing the registry (--registry), to fail over to. When the connection is
   * lost the client connects to the next broker of the list (host:port first, then these, in
   * turn) and sends again every packet still waiting for its answer: no send fails for the lost
   * connection, and a packet may be processed twice (at least once, as after a server failure).
   * Implies `reconnect`.
   */
  brokers?: Array<{ host: string; port: number }>;
  /**
   * With `reconnect` or `brokers`: when packets wait for their answers and nothing at all has
   * come from the broker for this long, in ms, the connection is taken for dead (a cut link or
   * a frozen host raises no error on TCP) and handled as a lost one: destroyed, and its
   * unanswered packets sent to the next broker. Default 7000: above the broker's default
   * --server-timeout (5000), after which it answers a packet whose server is silent, so a slow
   * server is not taken for a dead broker; keep it above the brokers' --server-timeout.
   * 0 turns it off.
   */
  silenceMs?: number;
  logger?: Logger;
}

/** How long close() lets the broker take to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

interface Endpoint {
  host: string;
  port: number;
  tls: boolean | ConnectionOptions;
  connectTimeoutMs: number;
}

export class BrokerClient {
  private readonly pending: PendingRequests<Answer>;
  private readonly logger: Logger;
  private readonly options: ClientOptions;
  /** The brokers to use, in turn: the first is host:port. */
  private readonly endpoints: Endpoint[];
  private current = 0;
  /** With failover: the line of each send written and not yet answered, to send it again. */
  private readonly written: Map<Seq, string> | null;
  private resubmissions = 0;
  private socket: Socket;
  private writer: LineWriter;
  /** The connection's watch for a silent broker; null when silenceMs is off or without reconnect. */
  private watch: SilenceWatch | null = null;
  private silences = 0;
  private nextSeq = 0;
  private closedError: ClientError | null = null;
  private lastSocketError: Error | undefined;
  /** While reconnecting: the lines of sends waiting for the new connection, by seq. */
  private unsent: Map<Seq, string> | null = null;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private reconnections = 0;

  /**
   * Connects to the broker; rejects with a ClientError of code CONNECT_FAILED (its `cause` is
   * the socket error, e.g. ECONNREFUSED) when it cannot.
   */
  static async connect(options: ClientOptions = {}): Promise<BrokerClient> {
    const endpoint: Endpoint = {
      host: options.host ?? CLIENT_DEFAULTS.host,
      port: options.port ?? CLIENT_DEFAULTS.port,
      tls: options.tls ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    };
    const others = (options.brokers ?? []).map((b) => ({ ...endpoint, host: b.host, port: b.port }));
    const endpoints = [endpoint, ...others.filter((b) => b.host !== endpoint.host || b.port !== endpoint.port)];
    const socket = await dial(endpoint);
    return new BrokerClient(socket, endpoints, options);
  }

  private constructor(socket: Socket, endpoints: Endpoint[], options: ClientOptions) {
    this.options = options;
    this.endpoints = endpoints;
    this.written = options.brokers === undefined ? null : new Map();
    this.logger = options.logger ?? silentLogger();
    this.pending = new PendingRequests<Answer>(options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs);
    this.backoffMs = options.reconnectMinMs ?? CLIENT_DEFAULTS.reconnectMinMs;
    this.socket = socket;
    this.writer = this.attach(socket);
  }

  /** Sends waiting for their answer. */
  get inflight(): number {
    return this.pending.size;
  }

  /** True once the connection has closed for good; every send then rejects with CONNECTION_CLOSED. */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /** True while a lost connection is being re-established (only with `reconnect`). */
  get reconnecting(): boolean {
    return this.unsent !== null;
  }

  /** How many times the connection was re-established. */
  get reconnects(): number {
    return this.reconnections;
  }

  /** Sends written again on a new connection (with `brokers`) after theirs was lost unanswered. */
  get resubmitted(): number {
    return this.resubmissions;
  }

  /** Connections given up because the broker stayed silent with packets waiting (silenceMs). */
  get silentBrokers(): number {
    return this.silences;
  }

  /** The broker connected to (or being dialed), as host:port. */
  get broker(): string {
    const { host, port } = this.endpoints[this.current]!;
    return `${host}:${port}`;
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
      if (this.unsent !== null) this.unsent.set(seq, line + '\n');
      else {
        this.writer.write(line + '\n');
        this.watch?.sent();
      }
      if (this.written !== null) {
        this.written.set(seq, line + '\n');
        // Sends that timed out leave their line behind: drop those now and then.
        if (this.written.size > 2 * this.pending.size + 1024) for (const old of this.written.keys()) if (!this.pending.has(old)) this.written.delete(old);
      }
    });
  }

  /**
   * Writes what is queued and closes the connection. Answers arriving meanwhile still settle
   * their sends; the rest reject with CONNECTION_CLOSED. Resolves once the socket is closed.
   */
  close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.unsent !== null) {
      // Between connections: nothing to flush, the waiting sends will never go out.
      this.unsent = null;
      this.finish();
      return Promise.resolve();
    }
    const socket = this.socket;
    if (socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      this.writer.flush();
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  /** Wires a connected socket to this client; returns its writer. */
  private attach(socket: Socket): LineWriter {
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.lastSocketError = err;
    });
    socket.once('close', () => this.onClose(socket));
    this.watch?.stop();
    this.watch = this.watchSilence(socket);
    new LineReader(socket, (packet) => this.onAnswer(packet), {
      maxLineLength: this.options.maxLineLength,
      onFramingError: (err) => this.logger.warn('unreadable line from the broker, closing', { error: err.message }),
    });
    return new LineWriter(socket);
  }

  /** Watches the connection for a broker gone silent, when failover or reconnection can help. */
  private watchSilence(socket: Socket): SilenceWatch | null {
    const limitMs = this.options.silenceMs ?? CLIENT_DEFAULTS.silenceMs;
    if (limitMs === 0 || (this.options.reconnect !== true && this.written === null)) return null;
    const watch = new SilenceWatch(
      limitMs,
      () => this.pending.size > 0 && socket === this.socket,
      (quietMs) => {
        this.silences++;
        const reason = `nothing from the broker for ${Math.round(quietMs)} ms with ${this.pending.size} packets waiting`;
        this.logger.warn('the broker went silent, dropping the connection', { broker: this.broker, quietMs: Math.round(quietMs), waiting: this.pending.size });
        socket.destroy(new Error(reason));
      },
    );
    socket.on('data', () => watch.heard());
    return watch;
  }

  private onAnswer(packet: Record<string, unknown>): void {
    const seq = packet.seq;
    const answer = packet as unknown as Answer;
    if (typeof seq === 'number' || typeof seq === 'string') {
      this.written?.delete(seq);
      if (!this.pending.settle(seq, answer)) this.logger.debug('an answer for no waiting send', { seq });
      return;
    }
    // The broker answers without a seq only when it could not read the packet's; with one
    // send waiting, the answer can only be for it.
    if (!this.pending.settleOnly(answer)) this.logger.debug('an answer without seq, with several sends waiting', { type: packet.type });
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.watch?.stop();
    this.watch = null;
    if (this.closing || (this.options.reconnect !== true && this.written === null)) {
      this.finish();
      return;
    }
    if (this.written !== null) {
      this.failOver();
      return;
    }
    // The sends written on the lost connection may or may not have been routed: they fail, so
    // the caller decides whether to send them again. Later sends wait for the new connection.
    this.pending.failAll(this.closeError());
    this.lastSocketError = undefined;
    this.unsent = new Map();
    this.logger.warn('lost the connection to the broker, reconnecting', { broker: this.broker });
    this.scheduleReconnect();
  }

  /** The connection is lost: on to the next broker, with every send still unanswered. */
  private failOver(): void {
    const lost = this.broker;
    this.unsent = new Map();
    for (const [seq, line] of this.written!) {
      // Sends that timed out are no longer waiting: they must not go out again.
      if (this.pending.has(seq)) this.unsent.set(seq, line);
      else this.written!.delete(seq);
    }
    this.resubmissions += this.unsent.size;
    this.lastSocketError = undefined;
    this.current = (this.current + 1) % this.endpoints.length;
    this.logger.warn('lost the connection to the broker, moving on', { broker: lost, next: this.broker, resubmitting: this.unsent.size });
    // The next broker is likely up: try it at once.
    this.backoffMs = this.options.reconnectMinMs ?? CLIENT_DEFAULTS.reconnectMinMs;
    this.reconnectTimer = setTimeout(() => void this.reconnect(), 0);
  }

  private scheduleReconnect(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(delay * 2, this.options.reconnectMaxMs ?? CLIENT_DEFAULTS.reconnectMaxMs);
    const jittered = Math.max(1, Math.round(delay * (0.75 + Math.random() * 0.25)));
    this.reconnectTimer = setTimeout(() => void this.reconnect(), jittered);
  }

  private async reconnect(): Promise<void> {
    this.reconnectTimer = null;
    let socket: Socket;
    try {
      socket = await dial(this.endpoints[this.current]!);
    } catch (err) {
      if (this.closing) return;
      this.logger.debug('reconnection failed', { broker: this.broker, error: err instanceof Error ? err.message : String(err) });
      // With several brokers, each failed dial tries the next one.
      this.current = (this.current + 1) % this.endpoints.length;
      this.scheduleReconnect();
      return;
    }
    if (this.closing || this.unsent === null) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    this.writer = this.attach(socket);
    this.backoffMs = this.options.reconnectMinMs ?? CLIENT_DEFAULTS.reconnectMinMs;
    this.reconnections++;
    const unsent = this.unsent;
    this.unsent = null;
    // Sends that timed out while waiting are no longer pending: they must not go out.
    for (const [seq, line] of unsent) if (this.pending.has(seq)) this.writer.write(line);
    this.logger.info('reconnected to the broker', { broker: this.broker, waiting: unsent.size });
  }

  /** Closed for good: every waiting send and every later one rejects with CONNECTION_CLOSED. */
  private finish(): void {
    this.closedError = this.closeError();
    this.pending.failAll(this.closedError);
  }

  private closeError(): ClientError {
    const cause = this.lastSocketError;
    return new ClientError(
      ClientErrorCode.CONNECTION_CLOSED,
      cause === undefined ? 'the connection to the broker closed' : `the connection to the broker closed: ${describeError(cause)}`,
      { cause },
    );
  }
}

/** Opens a connection (TLS when asked), bounded by connectTimeoutMs; rejects with CONNECT_FAILED. */
function dial(endpoint: Endpoint): Promise<Socket> {
  const { host, port, connectTimeoutMs } = endpoint;
  return new Promise((resolve, reject) => {
    const useTls = endpoint.tls !== false;
    const socket: Socket = useTls
      ? tls.connect({ host, port, ...(endpoint.tls === true ? {} : (endpoint.tls as ConnectionOptions)) })
      : net.connect({ host, port });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ClientError(ClientErrorCode.CONNECT_FAILED, `cannot connect to the broker at ${host}:${port}: ${describeError(err)}`, { cause: err }));
    };
    const timer = setTimeout(() => fail(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    socket.once('error', fail);
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/** The client's name for describeError (broker/support/describe-error.ts), kept for its users. */
export { describeError as describeSocketError };
