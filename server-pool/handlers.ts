/**
 * What a server does with a payload. Each handler is a pure function from payload to answer;
 * `sha1` is what the classic lab servers compute, so clients can verify every answer.
 */
import { sha1Hex } from '../broker/support/sha1.js';

export { sha1Hex };

/** Turns a packet's payload into the reply's payload. */
export type Handler = (payload: string) => string;

/** The handler names the CLI accepts, default first. */
export const HANDLER_NAMES = ['sha1', 'echo', 'upper'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Every handler by name. */
export const handlers: Readonly<Record<HandlerName, Handler>> = {
  sha1: sha1Hex,
  echo: (payload) => payload,
  upper: (payload) => payload.toUpperCase(),
};

/** The handler for a name, or the function itself when given one. */
export function resolveHandler(handler: HandlerName | Handler): Handler {
  return typeof handler === 'function' ? handler : handlers[handler];
}
