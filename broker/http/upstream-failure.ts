/**
 * What a failed attempt on a backend means: the answer the client gets if nothing follows,
 * whether health should take the backend out (it refused, reset or timed out), and whether
 * the request surely never left the broker (then any method may go to another backend).
 */
import type { Endpoint } from '../routing/member.js';
import { describeError } from '../support/describe-error.js';
import { HttpErrorCode } from './http-errors.js';

export interface UpstreamFailure {
  code: HttpErrorCode;
  message: string;
  /** The backend refused, reset or timed out: take it out. */
  passive: boolean;
  /** The request never left the broker. */
  unsent: boolean;
}

/** The timeouts the messages quote. */
export interface UpstreamTimeouts {
  readonly upstreamTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
}

/** The reason given to undici when a response head cannot be relayed. */
export class UnrelayableResponse extends Error {}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const RESETS = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function codeOf(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether the error says the backend is unwell (refused, reset, timed out). */
export function isPassive(err: Error): boolean {
  const code = codeOf(err) ?? '';
  return CONNECT_FAILURES.has(code) || RESETS.has(code) || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

export function classify(err: Error, backend: Endpoint | undefined, t: UpstreamTimeouts): UpstreamFailure {
  const code = codeOf(err) ?? '';
  const id = backend?.member.id;
  const who = backend === undefined ? 'the server' : id === undefined ? `server ${backend.address}` : `server ${id} (${backend.address})`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not accept a connection within ${t.upstreamConnectTimeoutMs} ms`, passive: true, unsent: true };
  }
  if (CONNECT_FAILURES.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} refused the connection (${code})`, passive: true, unsent: true };
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} left before the request was sent`, passive: false, unsent: true };
  }
  if (RESETS.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} closed the connection without an answer: ${describeError(err)}`, passive: true, unsent: false };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not answer within ${t.upstreamTimeoutMs} ms`, passive: true, unsent: false };
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return { code: HttpErrorCode.BAD_REQUEST, message: `the request cannot be forwarded: ${err.message}`, passive: false, unsent: false };
  }
  const what = err instanceof UnrelayableResponse ? err.message : `its response was invalid: ${describeError(err)}`;
  return { code: HttpErrorCode.BAD_GATEWAY, message: `${who}: ${what}`, passive: false, unsent: false };
}
