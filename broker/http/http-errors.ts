/**
 * The answers the HTTP front end gives itself, each with a stable code that callers match on
 * and the status it is sent with. The body is short JSON: {"code","message","requestId"}.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';

export const HttpErrorCode = {
  /** The request is malformed: framing, headers, target, or the policy header. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** --http-token is set and the request does not carry it. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A path under the admin prefix that the broker does not serve. */
  NOT_FOUND: 'NOT_FOUND',
  /** No HTTP server is known for the request's policy. */
  UNKNOWN_POLICY: 'UNKNOWN_POLICY',
  /** CONNECT: the broker is not a forward proxy. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** The request did not arrive within --http-headers-timeout. */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** The request line names an HTTP version other than 1.x. */
  VERSION_NOT_SUPPORTED: 'VERSION_NOT_SUPPORTED',
  /** The backend refused, reset or closed the connection, or sent a malformed response. */
  BAD_GATEWAY: 'BAD_GATEWAY',
  /** The policy has HTTP servers but none is live. */
  NO_SERVER: 'NO_SERVER',
  /** --http-max-inflight requests are already being proxied. */
  OVERLOADED: 'OVERLOADED',
  /** The connection is past --http-max-connections. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The broker is stopping. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The backend did not answer within --upstream-timeout. */
  GATEWAY_TIMEOUT: 'GATEWAY_TIMEOUT',
  /** The request carries the broker's own Via entry: it was proxied back to the broker (loop-marker.ts). */
  LOOP_DETECTED: 'LOOP_DETECTED',
  /** An interceptor (docs/hooks.md) failed or timed out on the request or its response (fail-closed). */
  HOOK_FAILED: 'HOOK_FAILED',
  /** The request body is larger than an interceptor's bufferRequest.maxBytes. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The runtime API could not write a change to the shared registry (--registry): nothing changed, try again. */
  REGISTRY_UNAVAILABLE: 'REGISTRY_UNAVAILABLE',
} as const;

export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

export const HTTP_ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNKNOWN_POLICY: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  VERSION_NOT_SUPPORTED: 505,
  BAD_GATEWAY: 502,
  NO_SERVER: 503,
  OVERLOADED: 503,
  TOO_MANY_CONNECTIONS: 503,
  SHUTTING_DOWN: 503,
  GATEWAY_TIMEOUT: 504,
  LOOP_DETECTED: 508,
  HOOK_FAILED: 502,
  PAYLOAD_TOO_LARGE: 413,
  REGISTRY_UNAVAILABLE: 503,
};

/** The JSON body of an error answer. */
export function errorBody(code: HttpErrorCode, message: string, requestId?: string): string {
  return JSON.stringify(requestId === undefined ? { code, message } : { code, message, requestId });
}

/**
 * A whole error response as raw bytes, for sockets the HTTP parser has given up on (malformed
 * requests, timeouts): there is no ServerResponse to write it with. Always closes.
 */
export function rawErrorResponse(code: HttpErrorCode, message: string): string {
  const status = HTTP_ERROR_STATUS[code];
  const body = errorBody(code, message);
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
  508: 'Loop Detected',
};

/**
 * Answers a request with an error. `close` ends the connection after it (a request body may
 * be left unread). 401 answers say which scheme to use.
 */
export function sendError(res: ServerResponse, code: HttpErrorCode, message: string, requestId: string | undefined, close: boolean): void {
  const body = errorBody(code, message, requestId);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  if (requestId !== undefined) headers.push('x-request-id', requestId);
  if (code === HttpErrorCode.UNAUTHORIZED) headers.push('www-authenticate', 'Bearer');
  if (close) headers.push('connection', 'close');
  // The reason phrase named: a head that failed to go out (a header Node refused) may have left
  // the response's statusMessage set, which would otherwise read "502 OK".
  const status = HTTP_ERROR_STATUS[code];
  res.writeHead(status, STATUS_CODES[status] ?? 'Error', headers);
  res.end(body);
}
