/**
 * Typed packet out, NDJSON line out. The broker always ends its lines with "\n"; the classic
 * scripts' json.loads() ignores the trailing newline.
 */
import type { ErrorCode } from './error-codes.js';
import type { ErrorPacket, RegisteredPacket, Seq } from './packet-types.js';

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

/** The line a client packet becomes on its way to a server, tagged with the broker's rid. */
export function encodeForward(srcid: number, policy: number, payload: string, rid: number): string {
  return encodeLine({ type: 0, srcid, privPoliId: policy, payloadsize: payload.length, payload, rid });
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
