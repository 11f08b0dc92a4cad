/**
 * Local failures of a send, each with a stable code callers match on. They are not the broker's
 * type 3 errors: those arrive as answers. These mean no answer came at all.
 */

export const ClientErrorCode = {
  /** The connection closed (or close() was called) before the answer came. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** No answer within the client's timeout. */
  TIMEOUT_LOCAL: 'TIMEOUT_LOCAL',
  /** The broker could not be reached. */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /** A packet's own `seq` is already waiting for an answer on this connection. */
  DUPLICATE_SEQ: 'DUPLICATE_SEQ',
  /** A packet's own `seq` is neither a number nor a string, so no answer could be matched to it. */
  INVALID_SEQ: 'INVALID_SEQ',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClientError';
  }
}
