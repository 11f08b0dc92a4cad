/**
 * Stable error codes carried by type 3 packets. Callers match on the code, never on the message.
 */
export const ErrorCode = {
  /** Not JSON, not an object, or a field with the wrong type or range. */
  BAD_PACKET: 'BAD_PACKET',
  /** A `type` the broker does not know. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** A frame longer than --max-packet-bytes; its bytes were discarded unread. */
  TOO_LARGE: 'TOO_LARGE',
  /** No server is registered for the policy, or none of them is live. */
  NO_SERVER: 'NO_SERVER',
  /** Servers of the policy failed while the packet was in flight and no attempt was left. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The server did not answer within --server-timeout, on the last attempt. */
  TIMEOUT: 'TIMEOUT',
  /** A bound on in-flight or queued packets was reached; retry later. */
  OVERLOADED: 'OVERLOADED',
  /** A registration without the right secret. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A registration that reuses the id of a live server registered from another address. */
  DUPLICATE_ID: 'DUPLICATE_ID',
  /**
   * Sent on a server's session when the broker drops it: the port it registered never answered
   * a packet (nothing listens there, or something that does not speak the protocol).
   */
  BAD_SERVER: 'BAD_SERVER',
  /** An interceptor (docs/hooks.md) failed or timed out on the packet or its reply (fail-closed). */
  HOOK_FAILED: 'HOOK_FAILED',
  /** An interceptor refused the packet (its drop() without a code of its own). */
  HOOK_REJECTED: 'HOOK_REJECTED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A protocol failure with its wire code, thrown by validation and turned into a type 3 packet. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The sender's `seq`, when it could be read, so the error reaches the right request. */
    readonly seq?: number | string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
