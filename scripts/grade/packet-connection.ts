/**
 * One TCP connection that speaks packets the way the graded programs may: frames are found by
 * the broker's own decoder, so an answer may end in a newline or not (classic framing), and
 * several may arrive in one read. Reading is pull-style, each wait bounded: a check asks for the
 * next packet and gets it, "closed" or "timeout", never a hang.
 */
import type { Socket } from 'node:net';
import { dial } from './dial.js';
import { FrameDecoder } from '../../broker/protocol/frame-decoder.js';
import { Inbox } from './inbox.js';

/** What the next frame was. */
export type Frame = { kind: 'packet'; packet: Record<string, unknown>; text: string } | { kind: 'unparsable'; text: string };
export type Received = Frame | { kind: 'closed' } | { kind: 'timeout' };

/** Answers of graded programs are small; a longer frame is reported as unparsable. */
const MAX_FRAME_BYTES = 1024 * 1024;
const TOO_LARGE = `answer too large (a frame over ${MAX_FRAME_BYTES} bytes)`;
/** Frames no check has asked for yet: a check pipelines at most a few hundred. */
const MAX_UNREAD = 10_000;

export class PacketConnection {
  private readonly inbox: Inbox<Frame>;

  private constructor(readonly socket: Socket) {
    this.inbox = new Inbox<Frame>(MAX_UNREAD, () => socket.destroy());
    const decoder = new FrameDecoder(MAX_FRAME_BYTES, {
      frame: (text) => this.deliver(parseFrame(text)),
      oversized: () => {
        // The decoder skips the rest of the frame without buffering it; the grader stops reading too.
        this.deliver({ kind: 'unparsable', text: TOO_LARGE });
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.inbox.close());
  }

  /** Connects within timeoutMs; rejects with a message naming the address otherwise. */
  static async open(host: string, port: number, timeoutMs: number): Promise<PacketConnection> {
    return new PacketConnection(await dial(host, port, timeoutMs));
  }

  /** Wraps a socket accepted by one of the grader's own listeners. */
  static accepted(socket: Socket): PacketConnection {
    return new PacketConnection(socket);
  }

  /** Writes text as is (the caller decides on the framing). */
  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** The next frame, or "closed" / "timeout". After "closed", every call returns "closed". */
  async next(timeoutMs: number): Promise<Received> {
    const next = await this.inbox.next(timeoutMs);
    return next.kind === 'item' ? next.item : next;
  }

  /** The next packet: a parsed JSON object, or throws saying what came instead. */
  async nextPacket(timeoutMs: number, what = 'an answer'): Promise<Record<string, unknown>> {
    const received = await this.next(timeoutMs);
    if (received.kind === 'packet') return received.packet;
    throw new Error(`${what}: ${describe(received, timeoutMs)}`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private deliver(received: Frame): void {
    this.inbox.deliver(received);
  }
}

/** "no answer within 3000 ms", "connection closed", "not JSON: …". */
export function describe(received: Received, timeoutMs: number): string {
  switch (received.kind) {
    case 'timeout':
      return `no answer within ${timeoutMs} ms`;
    case 'closed':
      return 'connection closed without an answer';
    case 'unparsable':
      return received.text === TOO_LARGE ? TOO_LARGE : `not a JSON object: ${received.text.slice(0, 80)}`;
    case 'packet':
      return received.text.slice(0, 120);
  }
}

function parseFrame(text: string): Frame {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return { kind: 'packet', packet: value as Record<string, unknown>, text };
  } catch {
    // reported below
  }
  return { kind: 'unparsable', text };
}

/** Whether host:port accepts a TCP connection within timeoutMs. */
export async function acceptsConnections(host: string, port: number, timeoutMs: number): Promise<boolean> {
  try {
    (await PacketConnection.open(host, port, timeoutMs)).destroy();
    return true;
  } catch {
    return false;
  }
}

/** A field that may be a number or a numeric string (classic framing), as a number. */
export function numberField(packet: Record<string, unknown>, field: string): number | undefined {
  const value = packet[field];
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}
