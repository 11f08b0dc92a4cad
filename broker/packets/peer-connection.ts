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
 */
import type { Socket } from 'node:net';
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeError } from '../protocol/encode.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import type { InboundPacket, Seq } from '../protocol/packet-types.js';
import { decodePacket } from '../protocol/validate.js';
import type { PacketStats } from '../stats.js';
import type { AnswerPort, Job } from './job.js';
import { LineWriter } from '../support/line-writer.js';
import { normalizeHost } from '../support/net-address.js';

/** How long a closed connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** What a connection hands its packets to. */
export interface PacketHandlers {
  clientPacket(conn: PeerConnection, packet: Extract<InboundPacket, { type: 0 }>): void;
  registration(conn: PeerConnection, packet: Extract<InboundPacket, { type: 1 }>): void;
  heartbeat(conn: PeerConnection, packet: Extract<InboundPacket, { type: 5 }>): void;
  leave(conn: PeerConnection, packet: Extract<InboundPacket, { type: 6 }>): void;
  closed(conn: PeerConnection): void;
}

export class PeerConnection implements AnswerPort {
  closed = false;
  /** Client packets of this connection not yet answered. */
  inflight = 0;
  /** The peer's address, without the IPv4-mapped IPv6 prefix. */
  readonly host: string;
  private readonly writer: LineWriter;
  private readonly decoder: FrameDecoder;
  /** Client packets read but waiting for an in-flight slot. */
  private held: Array<Extract<InboundPacket, { type: 0 }>> = [];
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

  constructor(
    readonly socket: Socket,
    maxPacketBytes: number,
    private readonly maxInflight: number,
    private readonly handlers: PacketHandlers,
    private readonly stats: PacketStats,
  ) {
    this.host = normalizeHost(socket.remoteAddress ?? '');
    socket.setNoDelay(true);
    this.writer = new LineWriter(socket, (accepted) => {
      if (!accepted) this.waitForDrain();
    });
    this.decoder = new FrameDecoder(maxPacketBytes, {
      frame: (text) => this.onFrame(text),
      oversized: (limit) => {
        this.frames++;
        this.sendError(ErrorCode.TOO_LARGE, `packet larger than ${limit} bytes`);
      },
    });
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closed = true;
      this.handlers.closed(this);
    });
  }

  answer(_job: Job, line: string): void {
    this.inflight--;
    if (this.closed) return;
    if (line.length > 0) this.writer.write(line);
    if (this.heldHead < this.held.length) this.releaseHeld();
  }

  /** Sends a type 3 error on this connection. */
  sendError(code: ErrorCode, message: string, seq?: Seq): void {
    this.stats.countError(code);
    this.send(encodeError(code, message, seq));
  }

  send(line: string): void {
    if (!this.closed) this.writer.write(line);
  }

  /** Sends what is queued, then closes; destroys the socket if the peer does not close its side. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.writer.flush();
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
    const midFrame = this.decoder.midFrame && !this.waitingForDrain;
    const busy = this.inflight > 0 || this.heldHead < this.held.length;
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

  private onFrame(text: string): void {
    this.frames++;
    let packet: InboundPacket;
    try {
      packet = decodePacket(text);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.sendError(err.code, err.message, err.seq);
      return;
    }
    switch (packet.type) {
      case 0:
        if (this.inflight < this.maxInflight && this.heldHead === this.held.length) {
          this.inflight++;
          this.handlers.clientPacket(this, packet);
        } else if (this.held.length - this.heldHead < this.maxInflight) {
          this.held.push(packet);
          this.socket.pause();
        } else {
          this.sendError(ErrorCode.OVERLOADED, `more than ${2 * this.maxInflight} packets pending on this connection`, packet.seq);
        }
        return;
      case 1:
        this.handlers.registration(this, packet);
        return;
      case 5:
        this.handlers.heartbeat(this, packet);
        return;
      case 6:
        this.handlers.leave(this, packet);
        return;
      case 2:
        this.sendError(ErrorCode.BAD_PACKET, 'replies (type 2) belong on the connection the broker opened to the server', packet.seq);
        return;
    }
  }

  /** Routes held packets as in-flight slots free up; reads again once none are held. */
  private releaseHeld(): void {
    if (this.releasing) return;
    this.releasing = true;
    while (this.inflight < this.maxInflight && this.heldHead < this.held.length && !this.closed) {
      const packet = this.held[this.heldHead++]!;
      this.inflight++;
      this.handlers.clientPacket(this, packet);
    }
    this.releasing = false;
    if (this.heldHead === this.held.length) {
      this.held = [];
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
      if (this.heldHead === this.held.length) this.socket.resume();
    });
  }
}
