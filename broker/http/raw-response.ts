/**
 * Response heads written as bytes, for sockets Node's HTTP server has handed over (an upgrade
 * request): there is no ServerResponse to write with. Pure: the caller writes the text.
 */
import { STATUS_CODES } from 'node:http';
import { errorBody, HTTP_ERROR_STATUS, type HttpErrorCode } from './http-errors.js';

/** A status line and headers (a flat [name, value, …] list), ended by the empty line. */
export function rawHead(status: number, reason: string | undefined, headers: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${reason ?? STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/** A whole error answer (JSON, as sendError's) that closes the connection. */
export function rawError(code: HttpErrorCode, message: string, requestId: string | undefined): string {
  const body = errorBody(code, message, requestId);
  const headers = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body))];
  if (requestId !== undefined) headers.push('X-Request-ID', requestId);
  if (code === 'UNAUTHORIZED') headers.push('WWW-Authenticate', 'Bearer');
  headers.push('Connection', 'close');
  return rawHead(HTTP_ERROR_STATUS[code], undefined, headers) + body;
}
