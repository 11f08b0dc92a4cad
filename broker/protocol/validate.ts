/**
 * Text in, typed packet out: parses one frame and checks every field, accepting what the
 * classic lab scripts send (numbers as strings, either spelling of the policy field, no
 * payloadsize). Anything else throws a ProtocolError naming the field.
 */
import { ErrorCode, ProtocolError } from './error-codes.js';
import { PacketType, type InboundPacket, type Seq } from './packet-types.js';
import { RAW_LITERAL_MIN_LENGTH } from './raw-literal.js';

const MAX_SEQ_LENGTH = 128;
const MAX_SECRET_LENGTH = 1024;
export const MAX_INFLIGHT_PER_SERVER = 4096;

type Fields = Record<string, unknown>;

/**
 * Parses and validates one frame; throws ProtocolError with the sender's seq when known.
 * `asciiBytes`: the frame's bytes, when the caller knows them to be all ASCII; a client packet
 * with a long payload keeps them to forward its literal as is (encode.ts forwardLine).
 */
export function decodePacket(text: string, asciiBytes?: Buffer): InboundPacket {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_PACKET, `malformed JSON: ${preview(text)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError(ErrorCode.BAD_PACKET, 'a packet must be a JSON object');
  }
  const fields = value as Fields;
  const seq = readSeq(fields);
  try {
    return validateFields(fields, seq, text, asciiBytes);
  } catch (err) {
    if (err instanceof ProtocolError && seq !== undefined) throw new ProtocolError(err.code, err.message, seq);
    throw err;
  }
}

function validateFields(f: Fields, seq: Seq | undefined, text: string, asciiBytes: Buffer | undefined): InboundPacket {
  if (f.type === undefined) throw new ProtocolError(ErrorCode.BAD_PACKET, 'missing field "type"');
  const type = toInteger(f.type, 'type');
  switch (type) {
    case PacketType.CLIENT: {
      const payload = readPayload(f);
      const packet: InboundPacket = {
        type: 0,
        srcid: requireInteger(f.srcid, 'srcid', 0),
        policy: readPolicy(f.privPoliId, 'privPoliId', f.privPolyId, 'privPolyId'),
        payload,
      };
      if (seq !== undefined) packet.seq = seq;
      if (payload.length >= RAW_LITERAL_MIN_LENGTH) {
        packet.raw = text;
        if (asciiBytes !== undefined) packet.rawBytes = asciiBytes;
      }
      return packet;
    }
    case PacketType.REGISTER: {
      const packet: InboundPacket = {
        type: 1,
        id: requireInteger(f.id, 'id', 0),
        policy: readPolicy(f.privPolyId, 'privPolyId', f.privPoliId, 'privPoliId'),
        listenport: requireInteger(f.listenport, 'listenport', 1, 65535),
        maxInflight: f.maxInflight === undefined ? 1 : requireInteger(f.maxInflight, 'maxInflight', 1, MAX_INFLIGHT_PER_SERVER),
        session: f.session === undefined ? false : requireBoolean(f.session, 'session'),
      };
      if (f.secret !== undefined) packet.secret = requireString(f.secret, 'secret', MAX_SECRET_LENGTH);
      if (f.httpport !== undefined) packet.httpport = requireInteger(f.httpport, 'httpport', 1, 65535);
      if (f.tls !== undefined) packet.tls = requireBoolean(f.tls, 'tls');
      if (f.weight !== undefined) packet.weight = requireInteger(f.weight, 'weight', 1, 1000);
      if (f.httptls !== undefined) packet.httptls = requireBoolean(f.httptls, 'httptls');
      return packet;
    }
    case PacketType.REPLY: {
      const payload = readPayload(f);
      const packet: InboundPacket = {
        type: 2,
        srcid: requireInteger(f.srcid, 'srcid', 0),
        destid: f.destid === undefined ? 0 : requireInteger(f.destid, 'destid', 0),
        payload,
      };
      if (seq !== undefined) packet.seq = seq;
      if (f.rid !== undefined) packet.rid = requireInteger(f.rid, 'rid', 0);
      return packet;
    }
    case PacketType.HEARTBEAT: {
      const packet: InboundPacket = f.id === undefined ? { type: 5 } : { type: 5, id: requireInteger(f.id, 'id', 0) };
      if (f.echo !== undefined && requireBoolean(f.echo, 'echo')) packet.echo = true;
      return packet;
    }
    case PacketType.LEAVE:
      return { type: 6, id: requireInteger(f.id, 'id', 0) };
    default:
      throw new ProtocolError(ErrorCode.UNKNOWN_TYPE, `unknown packet type ${type}`, seq);
  }
}

/** The payload must be a string; a payloadsize, when sent, must match its length. */
function readPayload(f: Fields): string {
  const payload = f.payload === undefined ? '' : f.payload;
  if (typeof payload !== 'string') throw new ProtocolError(ErrorCode.BAD_PACKET, 'field "payload" must be a string');
  if (f.payloadsize !== undefined) {
    const size = requireInteger(f.payloadsize, 'payloadsize', 0);
    // Python's len() counts code points, JavaScript's .length counts UTF-16 units: accept either.
    if (size !== payload.length && size !== countCodePoints(payload)) {
      throw new ProtocolError(ErrorCode.BAD_PACKET, `payloadsize ${size} does not match the payload's length ${payload.length}`);
    }
  }
  return payload;
}

/** The policy under its usual spelling for the packet type, or else under the other one. */
function readPolicy(value: unknown, name: string, otherValue: unknown, otherSpelling: string): number {
  if (value !== undefined) return requireInteger(value, name, 0);
  if (otherValue !== undefined) return requireInteger(otherValue, otherSpelling, 0);
  throw new ProtocolError(ErrorCode.BAD_PACKET, `missing field "${name}"`);
}

function readSeq(f: Fields): Seq | undefined {
  const seq = f.seq;
  if (seq === undefined) return undefined;
  if (typeof seq === 'number' && Number.isFinite(seq)) return seq;
  if (typeof seq === 'string' && seq.length <= MAX_SEQ_LENGTH) return seq;
  // An unusable seq cannot be echoed; the packet is refused without one.
  throw new ProtocolError(ErrorCode.BAD_PACKET, `field "seq" must be a number or a string of at most ${MAX_SEQ_LENGTH} characters`);
}

// The checks take a field's value, read by name at the call (f.srcid): one property load per
// call site that V8 can specialise, where f[name] inside a shared helper saw every field of
// every packet type and went megamorphic (~3 % of the broker's CPU on the packet path).

function requireInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) throw new ProtocolError(ErrorCode.BAD_PACKET, `missing field "${name}"`);
  const n = toInteger(value, name);
  if (n < min || n > max) throw new ProtocolError(ErrorCode.BAD_PACKET, `field "${name}" must be between ${min} and ${max}, got ${n}`);
  return n;
}

const INTEGER_TEXT = /^\s*-?\d{1,16}\s*$/;

/** A safe integer, or a string holding one (the classic scripts send "111"). */
function toInteger(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new ProtocolError(ErrorCode.BAD_PACKET, `field "${name}" must be an integer, got ${describe(value)}`);
}

function requireString(value: unknown, name: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length > maxLength) {
    throw new ProtocolError(ErrorCode.BAD_PACKET, `field "${name}" must be a string of at most ${maxLength} characters`);
  }
  return value;
}

function requireBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new ProtocolError(ErrorCode.BAD_PACKET, `field "${name}" must be true or false`);
  return value;
}

function countCodePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(preview(value));
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function preview(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
