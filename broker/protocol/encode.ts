/**
 * Typed packet out, NDJSON line out. The broker always ends its lines with "\n"; the classic
 * scripts' json.loads() ignores the trailing newline.
 */
import type { ErrorCode } from './error-codes.js';
import type { ClientPacket, ErrorPacket, RegisteredPacket, Seq } from './packet-types.js';
import { RAW_LITERAL_MIN_LENGTH, rawLiteralAt } from './raw-literal.js';

/** One packet as one line. */
export function encodeLine(packet: object): string {
  return JSON.stringify(packet) + '\n';
}

/** A type 3 error line, echoing the request's seq when there is one. */
export function encodeError(code: ErrorCode, message: string, seq?: Seq): string {
  const packet: ErrorPacket = { type: 3, code, message };
  if (seq !== undefined) packet.seq = seq;
  return encodeLine(packet);
}

/**
 * The line a client packet becomes on its way to a server, tagged with the broker's rid. With
 * `raw`, the frame it arrived in, a long payload's literal is copied from it rather than encoded
 * again (raw-literal.ts); the line is the same either way: JSON.stringify's, field for field.
 */
export function encodeForward(srcid: number, policy: number, payload: string, rid: number, raw?: string): string {
  return forwardText(forwardLine({ type: 0, srcid, policy, payload, raw }, rid));
}

/** A forward line whose payload literal is bytes of the frame it came in, between two short texts. */
export interface SplicedLine {
  readonly head: string;
  readonly literal: Buffer;
  readonly tail: string;
}

/** A forward line: text, or spliced around the frame's own bytes. */
export type ForwardLine = string | SplicedLine;

/**
 * encodeForward's line, with a long payload's literal left as the frame's bytes when the
 * decoder kept them (`packet.rawBytes`, an all-ASCII frame: its byte offsets are its character
 * offsets). A 64 KiB payload then goes out without being copied into a string, encoded to
 * UTF-8 and copied again: the socket writes the frame's bytes as they were read.
 */
export function forwardLine(packet: ClientPacket, rid: number): ForwardLine {
  const { payload, raw, rawBytes } = packet;
  const at = raw !== undefined && payload.length >= RAW_LITERAL_MIN_LENGTH ? rawLiteralAt(raw, 'payload', payload) : undefined;
  // Integers only (validated), so their text is JSON's.
  const head = `{"type":0,"srcid":${packet.srcid},"privPoliId":${packet.policy},"payloadsize":${payload.length},"payload":`;
  const tail = `,"rid":${rid}}\n`;
  if (at === undefined) return head + JSON.stringify(payload) + tail;
  const end = at + payload.length + 2;
  return rawBytes === undefined ? head + raw!.slice(at, end) + tail : { head, literal: rawBytes.subarray(at, end), tail };
}

/** A forward line as one text (tests, logs). */
export function forwardText(line: ForwardLine): string {
  return typeof line === 'string' ? line : line.head + line.literal.toString('latin1') + line.tail;
}

/** The line a server's reply becomes on its way back to the client. */
export function encodeReply(serverId: number, destid: number, payload: string, seq?: Seq): string {
  const reply: Record<string, unknown> = { type: 2, srcid: serverId, destid, payloadsize: payload.length, payload };
  if (seq !== undefined) reply.seq = seq;
  return encodeLine(reply);
}

export function encodeRegistered(packet: Omit<RegisteredPacket, 'type' | 'status'>): string {
  return encodeLine({ type: 4, status: 'registered', ...packet });
}
