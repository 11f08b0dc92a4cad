/**
 * The packets of the wire protocol (docs/protocol.md), for all three programs: what the broker
 * receives after validation (every number a number, whichever spelling or string form the
 * sender used), what a session server sends to register, and what a client gets back.
 */
import type { ErrorCode } from './error-codes.js';

export const PacketType = {
  CLIENT: 0,
  REGISTER: 1,
  REPLY: 2,
  ERROR: 3,
  REGISTERED: 4,
  HEARTBEAT: 5,
  LEAVE: 6,
} as const;

/** `seq` is the client's own tag for pipelining; the broker echoes it untouched. */
export type Seq = number | string;

/** Type 0: client → broker (and broker → server, with `rid`). */
export interface ClientPacket {
  type: 0;
  srcid: number;
  policy: number;
  payload: string;
  seq?: Seq;
  /** The broker's request id, present only on packets the broker forwards to a server. */
  rid?: number;
  /**
   * The frame's text, kept by the decoder for a long payload: its literal is forwarded as it
   * came instead of encoded again (encodeForward checks that it still matches the payload).
   */
  raw?: string;
  /** With raw, the frame's bytes when all of them are ASCII (so raw's offsets are theirs): the literal is forwarded as these bytes. */
  rawBytes?: Buffer;
}

/** Type 1: server → broker. */
export interface Registration {
  type: 1;
  id: number;
  policy: number;
  listenport: number;
  /** Packets the server takes at once on one connection; 1 for classic servers. */
  maxInflight: number;
  secret?: string;
  /** Port of the server's HTTP listener, for the HTTP front end. */
  httpport?: number;
  /** True when the server's listenport speaks TLS: the broker dials it with TLS. */
  tls?: boolean;
  /** Its share of its policy's packets and requests relative to the others', 1-1000 (absent: 1). */
  weight?: number;
  /** True when the server's httpport speaks HTTPS: the broker reaches it with TLS, certificate verified. */
  httptls?: boolean;
  /**
   * True when the server keeps this connection open as its session: the broker removes it
   * when the connection closes. Classic servers close it at once and omit this.
   */
  session: boolean;
}

/** Type 2: server → broker → client. */
export interface ReplyPacket {
  type: 2;
  /** The id of the server that answered. */
  srcid: number;
  destid: number;
  payload: string;
  /** The payload's length; the broker always sends it to clients. */
  payloadsize?: number;
  seq?: Seq;
  rid?: number;
}

/** Type 3: broker → anyone. */
export interface ErrorPacket {
  type: 3;
  code: ErrorCode;
  message: string;
  seq?: Seq;
}

/** Type 4: broker → server, the answer to a registration. */
export interface RegisteredPacket {
  type: 4;
  id: number;
  privPolyId: number;
  status: 'registered';
  /** How often a session server should send a heartbeat, in ms. */
  heartbeatMs: number;
}

/** Type 5: server → broker on a session connection, to say it is alive. */
export interface HeartbeatPacket {
  type: 5;
  id?: number;
  /**
   * Asks the broker to answer with a type 5 (`id` as sent) when this connection holds the
   * session: how a server notices a broker gone silent (a cut link raises no error on TCP).
   * A broker without this answers nothing, which a server must take as "cannot tell".
   */
  echo?: boolean;
}

/** Type 6: server → broker, to leave gracefully: no new packets, in-flight ones still answered. */
export interface LeavePacket {
  type: 6;
  id: number;
}

/** What a broker can receive from a peer. */
export type InboundPacket = ClientPacket | Registration | ReplyPacket | HeartbeatPacket | LeavePacket;

/** Type 1 as a session server sends it (the wire's own names: `privPolyId`). */
export interface RegistrationPacket {
  type: 1;
  id: number;
  privPolyId: number;
  listenport: number;
  maxInflight: number;
  session: true;
  secret?: string;
  httpport?: number;
  tls?: true;
  weight?: number;
  httptls?: true;
}

/** Any other packet, answering a packet that was not type 0 (e.g. a type 4 for a registration). */
export interface OtherAnswer {
  type: 0 | 1 | 4 | 5 | 6;
  [field: string]: unknown;
}

/** What a client's send is answered with: the server's reply, the broker's error, or another packet. */
export type Answer = ReplyPacket | ErrorPacket | OtherAnswer;
