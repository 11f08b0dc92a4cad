/**
 * What a failed attempt on a backend means: the answer the client gets if nothing follows,
 * what it says of the backend (health.ts counts it), and whether the request surely never left
 * the broker (then any method may go to another backend).
 */
import type { Endpoint } from '../routing/member.js';
import { describeError } from '../support/describe-error.js';
import { tlsFailure } from './backend-tls.js';
import { HttpErrorCode } from './http-errors.js';

/**
 * What a failure says of the backend:
 * - 'failure': it refused, reset or timed out; counts towards --max-fails.
 * - 'overload': it looks like a connection limit, ours (EMFILE, no local port) or the
 *   backend's (it closed a new connection without a byte, as nginx does past its
 *   worker_connections); counts too, but never takes out a policy's last live backend.
 * - 'stale': it closed a keep-alive connection that had served before, as the request went
 *   out and before any answer (its idle timeout or its connection limit): not a failure;
 *   nginx and HAProxy retry such a request too.
 * - 'tls': the TLS handshake with an HTTPS backend failed, or its certificate was not accepted:
 *   counts as a failure, and is logged naming the backend (health.ts).
 * - 'none': not the backend's fault (the request, or the broker closing the pool).
 */
export type Verdict = 'failure' | 'overload' | 'tls' | 'stale' | 'none';

export interface UpstreamFailure {
  code: HttpErrorCode;
  message: string;
  verdict: Verdict;
  /** The backend dropped or timed out the request: an idempotent one may be sent again. */
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

/** The reason given to undici when the client has gone (a request's or an upgrade's). */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** The reason given to undici when an interceptor ends a response still arriving (502). */
export class HookAbort extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** Out of descriptors, local ports or buffers: the broker's limit, not the backend's health. */
const LOCAL_LIMITS = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'ENOMEM']);
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

/**
 * Bytes read on the connection before it closed, when undici says (its SocketError carries the
 * socket's figures; a raw ECONNRESET or EPIPE does not). The response head had not started,
 * so bytes read are earlier responses' bytes: the connection was a reused one.
 */
function bytesReadBefore(err: Error): number | undefined {
  const socket = (err as { socket?: { bytesRead?: unknown } | null }).socket;
  return typeof socket?.bytesRead === 'number' ? socket.bytesRead : undefined;
}

export function classify(err: Error, backend: Endpoint | undefined, t: UpstreamTimeouts): UpstreamFailure {
  const code = codeOf(err) ?? '';
  const id = backend?.member.id;
  const who = backend === undefined ? 'the server' : id === undefined ? `server ${backend.address}` : `server ${id} (${backend.address})`;
  const tls = tlsFailure(err);
  if (tls !== undefined) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `TLS to ${who} failed: ${tls.text}`, verdict: 'tls', passive: true, unsent: true };
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not accept a connection within ${t.upstreamConnectTimeoutMs} ms`, verdict: 'failure', passive: true, unsent: true };
  }
  if (LOCAL_LIMITS.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `cannot connect to ${who}: ${code} (a connection limit of this host)`, verdict: 'overload', passive: false, unsent: true };
  }
  if (CONNECT_FAILURES.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} refused the connection (${code})`, verdict: 'failure', passive: true, unsent: true };
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} left before the request was sent`, verdict: 'none', passive: false, unsent: true };
  }
  if (RESETS.has(code)) {
    const read = bytesReadBefore(err);
    const verdict: Verdict = read === undefined ? 'failure' : read > 0 ? 'stale' : 'overload';
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} closed the connection without an answer: ${describeError(err)}`, verdict, passive: true, unsent: false };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not answer within ${t.upstreamTimeoutMs} ms`, verdict: 'failure', passive: true, unsent: false };
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return { code: HttpErrorCode.BAD_REQUEST, message: `the request cannot be forwarded: ${err.message}`, verdict: 'none', passive: false, unsent: false };
  }
  const what = err instanceof UnrelayableResponse ? err.message : `its response was invalid: ${describeError(err)}`;
  return { code: HttpErrorCode.BAD_GATEWAY, message: `${who}: ${what}`, verdict: 'none', passive: false, unsent: false };
}
