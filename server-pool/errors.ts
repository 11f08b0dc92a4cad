/**
 * Failures of a server, each with a stable code callers match on: the broker's own codes for a
 * refused registration (UNAUTHORIZED, DUPLICATE_ID, …), or STOPPED when stop() came first.
 */

export const STOPPED = 'STOPPED';

export class ServerError extends Error {
  constructor(
    /** The broker's type 3 code, or STOPPED. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}
