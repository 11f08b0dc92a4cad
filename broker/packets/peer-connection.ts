/**
 * One connection accepted on the packet port. Clients send type 0 on it; servers register
 * (type 1) on it and, as session servers, keep it for heartbeats (5) and leaving (6). Every bad
 * frame gets a type 3 error and the connection goes on.
 *
 * Flow control: a client with `maxInflight` packets unanswered, or one that does not read its
 * answers, stops being read (TCP pushes back on it). The frames of the chunk already read wait
 * in `held` (at most `maxInflight` of them; past that, OVERLOADED), so a client may pipeline
 * any number of packets and still get every answer.
 *
 * Timeouts, checked by the broker's sweep rather than a timer per socket: a frame begun must end
 * within the header timeout (slow-loris peers sending a byte a second), and a connection with no
 * complete frame and nothing in flight for the idle timeout is closed. Time spent paused by the
 * broker (flow control) counts against neither.
 *
 * Memory: a broker may hold tens of thousands of idle connections, so one that has sent nothing
 * costs little more than its socket. The socket's three listeners are shared by every
 * connection (they find theirs in a WeakMap keyed by the socket), and the frame decoder, the
 * line writer and the held queue are made when first needed.
 */
import { isAscii } from 'node:buffer';
import type { Socket } from 'node:net';
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeError, encodeReply } from '../protocol/encode.js';
import { FrameDecoder, type FrameSink } from '../protocol/frame-decoder.js';
import type { InboundPacket, Seq } from '../protocol/packet-types.js';
import { RAW_LITERAL_MIN_LENGTH } from '../protocol/raw-literal.js';
import { decodePacket } from '../protocol/validate.js';
import type { Counters } from '../routing/counters.js';
import type { AnswerPort, Job } from './job.js';
import { LineWriter } from '../support/line-writer.js';
import { normalizeHost } from '../support/net-address.js';
import type { Admission } from '../routing/admission.js';

/** How long a closed connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

type ClientPacket = Extract<InboundPacket, { type: 0 }>;

/** Where a connection's client packets go. */
export interface PacketSink {
  accept(conn: PeerConnection, packet: ClientPacket): void;
}

/** Where a connection's server packets (registration, heartbeat, leave) and its closing go. */
export interface ServerAdmission {
  register(conn: PeerConnection, packet: Extract<InboundPacket, { type: 1 }>): void;
  heartbeat(conn: PeerConnection, packet: Extract<InboundPacket, { type: 5 }>): void;
  leave(conn: PeerConnection, packet: Extract<InboundPacket, { type: 6 }>): void;
  closed(conn: PeerConnection): void;
}

/** What every connection of one broker shares: where its packets go, and its limits. */
export interface PeerSettings {
  readonly router: PacketSink;
  readonly registrar: ServerAdmission;
  /** The listener's open connections: a connection leaves it as it closes. */
  readonly open: Set<PeerConnection>;
  readonly stats: Counters;
  readonly maxPacketBytes: number;
  /** Client packets in flight per connection before it stops being read. */
  readonly maxInflight: number;
  /** The packet admission: every client packet given to the router is accepted there and settled by its answer. */
  readonly admission: Admission;
}

/** A long frame's bytes when all of them are ASCII: they can carry its payload's literal to the server unchanged. */
function asciiBytes(bytes: Buffer): Buffer | undefined {
  return isAscii(bytes) ? bytes : undefined;
}

/** The connection a socket belongs to, for the listeners shared by all sockets. */
const connectionOf = new WeakMap<Socket, PeerConnection>();

export class PeerConnection implements AnswerPort, FrameSink {
  closed = false;
  /**
   * Client packets of this connection not yet answered: the per-connection limit
   * (--max-client-inflight) only. The broker-wide count is the packet admission's (settings.admission).
   */
  inflight = 0;
  /** Made on the first line sent. */
  private writer: LineWriter | undefined = undefined;
  /** Made on the first bytes received. */
  private decoder: FrameDecoder | undefined = undefined;
  /** Client packets read but waiting for an in-flight slot; undefined when none wait. */
  private held: ClientPacket[] | undefined = undefined;
  private heldHead = 0;
  private waitingForDrain = false;
  /** Set while releasing held packets, so answers given synchronously do not recurse. */
  private releasing = false;
  /** Frames received, and what the last sweep saw, for the header and idle timeouts. */
  private frames = 0;
  private markFrames = -1;
  private markMidFrame = false;
  private markAt = 0;
  private ending = false;
  /** Set by stopReading(). */
  private ignoring = false;

  constructor(
    readonly socket: Socket,
    private readonly settings: PeerSettings,
  ) {
    socket.setNoDelay(true);
    settings.open.add(this);
    connectionOf.set(socket, this);
    socket.on('data', PeerConnection.onSocketData);
    socket.on('error', PeerConnection.onSocketError);
    socket.on('close', PeerConnection.onSocketClose);
  }

  /** The peer's address, without the IPv4-mapped IPv6 prefix. */
  get host(): string {
    return normalizeHost(this.socket.remoteAddress ?? '');
  }

  /** The peer's port: with the host, names this connection among the client's (the trace shows it). */
  get port(): number | undefined {
    return this.socket.remotePort;
  }

  replied(job: Job, server: number): void {
    this.answer(job, encodeReply(server, job.srcid, job.reply, job.seq));
  }

  answer(_job: Job, line: string): void {
    this.inflight--;
    this.settings.admission.settle();
    if (this.closed) return;
    if (line.length > 0) this.output().write(line);
    if (this.held !== undefined) this.releaseHeld();
  }

  /** Sends a type 3 error on this connection. */
  sendError(code: ErrorCode, message: string, seq?: Seq): void {
    this.settings.stats.countError(code);
    this.send(encodeError(code, message, seq));
  }

  send(line: string): void {
    if (!this.closed) this.output().write(line);
  }

  /** Sends what is queued, then closes; destroys the socket if the peer does not close its side. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.writer?.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /**
   * Closes the connection when its peer has stalled: a frame begun `headerTimeoutMs` ago and
   * not ended, or nothing received and nothing in flight for `idleTimeoutMs` (0 = never).
   * Called by the broker's periodic sweep; returns true when it closed the connection.
   */
  sweep(now: number, headerTimeoutMs: number, idleTimeoutMs: number): boolean {
    if (this.closed || this.ending) return false;
    const midFrame = this.decoder !== undefined && this.decoder.midFrame && !this.waitingForDrain;
    const busy = this.inflight > 0 || this.held !== undefined;
    if (busy || this.frames !== this.markFrames || midFrame !== this.markMidFrame) {
      this.markFrames = this.frames;
      this.markMidFrame = midFrame;
      this.markAt = now;
      return false;
    }
    const quiet = now - this.markAt;
    if (midFrame && headerTimeoutMs > 0 && quiet > headerTimeoutMs) {
      this.sendError(ErrorCode.BAD_PACKET, `incomplete packet: no end of frame within ${headerTimeoutMs} ms; closing`);
      this.end();
      return true;
    }
    if (!midFrame && idleTimeoutMs > 0 && quiet > idleTimeoutMs) {
      this.end();
      return true;
    }
    return false;
  }

  /**
   * Stops reading the peer: what it has sent and what it sends until the close is skipped
   * unparsed (a peer refused and being closed, whose flood of frames would otherwise each be
   * decoded for nothing).
   */
  stopReading(): void {
    this.ignoring = true;
    this.socket.pause();
  }

  /** FrameSink: a complete frame from this connection's decoder. */
  frame(text: string, from: Buffer, start: number, end: number): void {
    if (this.ignoring) return;
    this.frames++;
    let packet: InboundPacket;
    try {
      packet = decodePacket(text, end - start >= RAW_LITERAL_MIN_LENGTH ? asciiBytes(from.subarray(start, end)) : undefined);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.sendError(err.code, err.message, err.seq);
      return;
    }
    switch (packet.type) {
      case 0:
        this.clientPacket(packet);
        return;
      case 1:
        this.settings.registrar.register(this, packet);
        return;
      case 5:
        this.settings.registrar.heartbeat(this, packet);
        return;
      case 6:
        this.settings.registrar.leave(this, packet);
        return;
      case 2:
        this.sendError(ErrorCode.BAD_PACKET, 'replies (type 2) belong on the connection the broker opened to the server', packet.seq);
        return;
    }
  }

  /** FrameSink: a frame over maxPacketBytes began; its bytes are skipped. */
  oversized(limit: number): void {
    if (this.ignoring) return;
    this.frames++;
    this.sendError(ErrorCode.TOO_LARGE, `packet larger than ${limit} bytes`);
  }

  private clientPacket(packet: ClientPacket): void {
    const max = this.settings.maxInflight;
    if (this.inflight < max && this.held === undefined) {
      this.inflight++;
      this.settings.admission.accept();
      this.settings.router.accept(this, packet);
    } else if (this.held === undefined || this.held.length - this.heldHead < max) {
      (this.held ??= []).push(packet);
      this.socket.pause();
    } else {
      this.sendError(ErrorCode.OVERLOADED, `more than ${2 * max} packets pending on this connection`, packet.seq);
    }
  }

  private output(): LineWriter {
    return (this.writer ??= new LineWriter(this.socket, (accepted) => {
      if (!accepted) this.waitForDrain();
    }));
  }

  /** Routes held packets as in-flight slots free up; reads again once none are held. */
  private releaseHeld(): void {
    if (this.releasing || this.held === undefined) return;
    this.releasing = true;
    const held = this.held;
    while (this.inflight < this.settings.maxInflight && this.heldHead < held.length && !this.closed) {
      const packet = held[this.heldHead++]!;
      this.inflight++;
      this.settings.admission.accept();
      this.settings.router.accept(this, packet);
    }
    this.releasing = false;
    if (this.heldHead === held.length) {
      this.held = undefined;
      this.heldHead = 0;
      if (!this.waitingForDrain) this.socket.resume();
    }
  }

  /** The peer is not reading its answers: stop reading its packets until it catches up. */
  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.socket.pause();
    this.socket.once('drain', () => {
      this.waitingForDrain = false;
      if (this.held === undefined) this.socket.resume();
    });
  }

  // The socket listeners, one function each for all connections: a closure per socket would
  // cost every idle connection a few hundred bytes.

  private static onSocketData(this: Socket, chunk: Buffer): void {
    const conn = connectionOf.get(this)!;
    (conn.decoder ??= new FrameDecoder(conn.settings.maxPacketBytes, conn)).push(chunk);
  }

  private static onSocketError(this: Socket): void {
    this.destroy();
  }

  private static onSocketClose(this: Socket): void {
    const conn = connectionOf.get(this)!;
    conn.closed = true;
    conn.settings.open.delete(conn);
    conn.settings.registrar.closed(conn);
  }
}
