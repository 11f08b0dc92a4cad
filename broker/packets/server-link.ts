/**
 * The broker's connection to one server: dialed once and reused for every packet, at most
 * `maxInflight` packets written at once, the rest queued (bounded). Replies are matched by
 * `rid`, or for a one-at-a-time server by being the one packet in flight. Anything else the
 * server sends is a protocol violation and ends the connection, so no reply can ever reach the
 * wrong client.
 *
 * A server that failed (state `down`) is probed when the link connects again: one probe packet
 * (type 0, `rid` 0, `srcid` 0, empty payload) must be answered within --server-timeout before
 * the server is reported connected and gets packets again. A TCP connect alone proves nothing:
 * a hung process still accepts.
 */
import { connect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { encodeForward } from '../protocol/encode.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { ProtocolError } from '../protocol/error-codes.js';
import type { ReplyPacket } from '../protocol/packet-types.js';
import { decodePacket } from '../protocol/validate.js';
import type { Endpoint } from '../routing/member.js';
import type { Job } from './job.js';
import { IdTable } from '../support/id-table.js';
import { LineWriter } from '../support/line-writer.js';

/** The rid of probe packets; client packets get rids from 1 up. */
export const PROBE_RID = 0;
const REDIAL_MIN_MS = 25;
const REDIAL_MAX_MS = 2000;

export interface LinkEvents {
  /** The link is ready for packets: connected, and for a server that was down, probed. */
  connected(link: ServerLink): void;
  reply(link: ServerLink, job: Job, reply: ReplyPacket): void;
  /**
   * The connection ended or could not be made. `inflight` are the jobs written to the server
   * whose fate is unknown; queued jobs stay in the link until `takeQueued()`.
   */
  disconnected(link: ServerLink, inflight: Job[], reason: string, timedOut: boolean): void;
}

export class ServerLink {
  private socket: Socket | null = null;
  private writer: LineWriter | null = null;
  private connected = false;
  /** Jobs written to the server and not answered yet, by rid (not a Map: see IdTable). */
  private readonly inflight = new IdTable<Job>();
  private queue: Job[] = [];
  private queueHead = 0;
  /** True once a connection was ever established. */
  everConnected = false;
  /** True once the server answered a packet or a probe: it speaks the protocol. */
  everAnswered = false;
  /** Failures since the last answer, for the redial backoff. */
  failuresInRow = 0;
  /** While a probe is unanswered: when it was written; else 0. */
  private probeSentAt = 0;
  private redialTimer: NodeJS.Timeout | undefined;

  constructor(
    /** The server's packet endpoint in the policy table. */
    readonly endpoint: Endpoint,
    private readonly maxFrameBytes: number,
    private readonly queueLimit: number,
    private readonly events: LinkEvents,
    /** For a server that registered with `tls: true`: how to dial it with TLS. */
    private readonly tls?: ConnectionOptions,
  ) {}

  /** Packets written at once: the registration's, read each time (a server registering again may change it). */
  private get maxInflight(): number {
    return this.endpoint.member.info.maxInflight;
  }

  /** Writes what the queue holds up to the window (after the window grew). */
  resume(): void {
    this.pump();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get isDialing(): boolean {
    return this.socket !== null && !this.connected;
  }

  /** True when one more job fits within maxInflight plus the queue bound (the table counts what the link holds). */
  hasRoom(): boolean {
    return this.endpoint.outstanding < this.maxInflight + this.queueLimit;
  }

  /** Takes a job: writes it now when a slot is free, else queues it. */
  submit(job: Job): void {
    if (this.connected && this.probeSentAt === 0 && this.inflight.size < this.maxInflight) this.write(job);
    else this.queue.push(job);
  }

  /** Dials the server; a no-op while a connection exists or is being made. */
  connect(): void {
    if (this.socket !== null) return;
    const { host } = this.endpoint.member;
    const port = this.endpoint.port;
    // node:tls is loaded only for a server that registered with tls (~0.7 MiB of RSS otherwise saved).
    const socket: Socket = this.tls === undefined ? connect({ host, port }) : process.getBuiltinModule('node:tls').connect({ ...this.tls, host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.maxFrameBytes, {
      frame: (text) => this.onFrame(text),
      oversized: () => this.fail('sent a frame over the size limit', false),
    });
    // A TLS server is connected once the handshake is done and its certificate verified.
    socket.on(this.tls === undefined ? 'connect' : 'secureConnect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      this.everConnected = true;
      this.writer = new LineWriter(socket);
      if (this.endpoint.state === 'down') {
        this.probeSentAt = Date.now();
        this.writer.write(encodeForward(0, this.endpoint.member.policy, '', PROBE_RID));
        return;
      }
      this.events.connected(this);
      this.pump();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) decoder.push(chunk);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.fail(err.code ?? err.message, false);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail('connection closed by the server', false);
    });
  }

  /** Dials again after a backoff that doubles with each failure in a row (up to REDIAL_MAX_MS). */
  redialLater(): void {
    if (this.redialTimer !== undefined) return;
    const delay = Math.min(REDIAL_MAX_MS, REDIAL_MIN_MS * 2 ** Math.min(this.failuresInRow, 10));
    this.redialTimer = setTimeout(() => {
      this.redialTimer = undefined;
      this.connect();
    }, delay);
    this.redialTimer.unref();
  }

  /** Write time of the oldest unanswered job, for the timeout sweep (a scan of at most maxInflight jobs). */
  oldestSentAt(): number | undefined {
    if (this.probeSentAt !== 0) return this.probeSentAt;
    let oldest: number | undefined;
    for (const job of this.inflight.values()) if (oldest === undefined || job.sentAt < oldest) oldest = job.sentAt;
    return oldest;
  }

  /** Ends the connection; its in-flight jobs are reported as disconnected. */
  fail(reason: string, timedOut: boolean): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.writer = null;
    this.connected = false;
    this.probeSentAt = 0;
    this.failuresInRow++;
    socket.destroy();
    const jobs = this.inflight.takeAll();
    this.events.disconnected(this, jobs, reason, timedOut);
  }

  /** Removes and returns the jobs still waiting to be written. */
  takeQueued(): Job[] {
    const jobs = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    return jobs;
  }

  /** Closes quietly, for a link with nothing in flight (removal, shutdown); no more redials. */
  close(): void {
    clearTimeout(this.redialTimer);
    this.redialTimer = undefined;
    const socket = this.socket;
    this.socket = null;
    this.writer = null;
    this.connected = false;
    this.probeSentAt = 0;
    socket?.destroy();
  }

  private write(job: Job): void {
    // Only a packet written to a server counts as an attempt; one re-routed from a queue does not.
    job.attempts++;
    job.sentAt = Date.now();
    this.inflight.set(job.rid, job);
    const line = job.line;
    if (typeof line === 'string') this.writer!.write(line);
    else this.writer!.writeSpliced(line.head, line.literal, line.tail);
  }

  private pump(): void {
    const max = this.maxInflight;
    while (this.connected && this.inflight.size < max && this.queueHead < this.queue.length) {
      const job = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Job;
      this.write(job);
    }
    // Compact once the consumed prefix dominates, so shifting stays O(1) amortised.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private onFrame(text: string): void {
    let packet;
    try {
      packet = decodePacket(text);
    } catch (err) {
      this.fail(`sent a bad packet: ${err instanceof ProtocolError ? err.message : String(err)}`, false);
      return;
    }
    if (packet.type !== 2) {
      this.fail(`sent a packet of type ${packet.type} on the data connection`, false);
      return;
    }
    if (this.probeSentAt !== 0) {
      // Nothing else is in flight while probing: the reply must be the probe's.
      if (packet.rid !== undefined && packet.rid !== PROBE_RID) {
        this.fail(`answered rid ${packet.rid}, which it was not sent`, false);
        return;
      }
      this.probeSentAt = 0;
      this.answered();
      this.events.connected(this);
      this.pump();
      return;
    }
    const job = this.takeOwnerOf(packet);
    if (job === undefined) {
      this.fail(packet.rid === undefined ? 'answered with nothing in flight' : `answered rid ${packet.rid}, which it was not sent`, false);
      return;
    }
    if (this.failuresInRow !== 0 || !this.everAnswered) this.answered();
    this.events.reply(this, job, packet);
    this.pump();
  }

  private answered(): void {
    this.everAnswered = true;
    this.failuresInRow = 0;
  }

  /** Removes and returns the job a reply answers: by rid, or the single job in flight of a one-at-a-time server. */
  private takeOwnerOf(reply: ReplyPacket): Job | undefined {
    if (reply.rid !== undefined) return this.inflight.take(reply.rid);
    if (this.maxInflight > 1 || this.inflight.size !== 1) return undefined;
    return this.inflight.takeAll()[0];
  }
}
