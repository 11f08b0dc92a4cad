/**
 * One connection the broker dialled to a server: type 0 packets in, type 2 replies out. Up to
 * maxInflight packets are handled at once, so replies may leave in any order; each carries the
 * packet's `rid` (and `seq`, for clients that talk to a server directly) so it can be matched.
 *
 * Packets are framed by the broker's own FrameDecoder, not by the ndjson LineReader that the
 * session and the client use: this is every packet's path, and ndjson's splitter (split2) runs
 * the regular expression /\r?\n/ over the whole text it holds at each read. With 64 KiB
 * payloads that was 35 % of a server's CPU, against a Buffer.indexOf per read here. It also
 * takes the classic framing (an object with no newline) from a client that dials it directly.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { FrameDecoder } from '../broker/protocol/frame-decoder.js';
import { LineWriter } from '../broker/support/line-writer.js';
import type { Logger } from '../broker/support/logger.js';
import type { Handler } from './handlers.js';

export interface ConnectionSettings {
  serverId: number;
  handler: Handler;
  delayMs: number;
  maxInflight: number;
  maxLineLength: number;
  logger: Logger;
  /** Called once per reply written. */
  onAnswered: () => void;
}

/** Packets allowed to wait behind the running ones before the socket stops being read. */
const QUEUED_PER_INFLIGHT = 4;
/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class ServedConnection {
  private readonly queue: PQueue;
  private readonly writer: LineWriter;
  private readonly maxQueued: number;
  private inputPaused = false;

  constructor(
    private readonly socket: Socket,
    private readonly settings: ConnectionSettings,
  ) {
    this.queue = new PQueue({ concurrency: settings.maxInflight });
    this.maxQueued = settings.maxInflight * QUEUED_PER_INFLIGHT;
    this.writer = new LineWriter(socket, () => this.checkFlow());
    const decoder = new FrameDecoder(settings.maxLineLength, {
      frame: (text) => this.onFrame(text),
      oversized: (limit) => {
        settings.logger.warn('closing a broker connection with an unreadable line', { error: `a line longer than ${limit} bytes` });
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('drain', this.checkFlow);
    socket.on('error', (err) => settings.logger.debug('broker connection error', { error: err.message }));
    // Packets still waiting when the broker goes away have nobody to answer to.
    socket.once('close', () => this.queue.clear());
  }

  /** Packets received and not yet answered. */
  get inflight(): number {
    return this.queue.size + this.queue.pending;
  }

  /** Writes what is queued, ends the connection, and destroys it if the peer lingers. */
  close(): void {
    this.writer.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** A frame: a JSON object is a packet; anything else is skipped, as a bad line always was. */
  private onFrame(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.settings.logger.debug('ignored a line that is not JSON');
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) this.onPacket(value as Record<string, unknown>);
  }

  private onPacket(packet: Record<string, unknown>): void {
    if (packet.type !== 0 && packet.type !== '0') {
      this.settings.logger.debug('ignored a packet that is not type 0', { type: packet.type });
      return;
    }
    if (this.settings.delayMs === 0 && this.queue.size === 0 && this.queue.pending === 0) {
      // Nothing to wait for and nothing ahead of it: answer now, without a queue entry and its promises.
      this.answer(packet);
      return;
    }
    void this.queue.add(() => this.serve(packet));
    if (this.queue.size >= this.maxQueued) this.checkFlow();
  }

  private async serve(packet: Record<string, unknown>): Promise<void> {
    if (this.settings.delayMs > 0) await sleep(this.settings.delayMs);
    this.answer(packet);
  }

  /** Computes the reply and queues it for writing. */
  private answer(packet: Record<string, unknown>): void {
    const payload = typeof packet.payload === 'string' ? packet.payload : '';
    let result: string;
    try {
      result = this.settings.handler(payload);
    } catch (err) {
      // No reply: the broker times the packet out and may try another server.
      this.settings.logger.error('the handler failed', { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (this.socket.writable) {
      this.writer.write(
        JSON.stringify({
          type: 2,
          srcid: this.settings.serverId,
          destid: toId(packet.srcid),
          payloadsize: result.length,
          payload: result,
          rid: packet.rid,
          seq: packet.seq,
        }) + '\n',
      );
      this.settings.onAnswered();
    }
    if (this.inputPaused) this.checkFlow();
  }

  /**
   * Stops reading while the socket's buffer is full or too many packets wait; resumes after.
   * The frames of a chunk already read are still queued: at most one read's worth beyond the bound.
   */
  private readonly checkFlow = (): void => {
    const pause = this.socket.writableNeedDrain || this.queue.size >= this.maxQueued;
    if (pause === this.inputPaused) return;
    this.inputPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  };
}

/** The sender's id as a number; the broker always sends one, a hand-written client may not. */
function toId(value: unknown): number {
  if (typeof value === 'number') return value;
  const n = Number(value);
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(n) ? n : 0;
}
