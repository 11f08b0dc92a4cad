/**
 * Kept apart from redis-connection.ts, which loads the `redis` client: the store needs only
 * this class, and a broker without --registry must not pay for the client it never uses.
 */

/**
 * Redis answered, with an error: a script failed (bad data it did not expect, a key of the
 * wrong type, a script bug). Redis is there: this is not an outage, and retrying the same call
 * gives the same answer.
 */
export class ScriptError extends Error {
  readonly code = 'SCRIPT_ERROR';
}

