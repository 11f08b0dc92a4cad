/**
 * An admin page's answer as plain data (status, headers, body), written to the response by
 * whoever holds it: the front end that asked (one process), or a worker relaying the
 * primary's answer over IPC (--workers).
 */
import type { ServerResponse } from 'node:http';
import { errorBody, HTTP_ERROR_STATUS, HttpErrorCode } from '../http/http-errors.js';

export interface AdminAnswer {
  status: number;
  /** Flat name/value list, without Connection. */
  headers: string[];
  /** UTF-8 text: every admin page is JSON, HTML or Prometheus text. */
  body: string;
}

/** An answer with a body and the headers every admin page carries. */
export function bodyAnswer(status: number, body: string, type: string, extra: string[] = []): AdminAnswer {
  return {
    status,
    headers: ['content-type', type, 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store', 'x-content-type-options', 'nosniff', ...extra],
    body,
  };
}

export function jsonAnswer(status: number, value: unknown): AdminAnswer {
  return bodyAnswer(status, JSON.stringify(value), 'application/json');
}

/** The broker's JSON error answer, as sendError() writes it. */
export function errorAnswer(code: HttpErrorCode, message: string): AdminAnswer {
  const body = errorBody(code, message);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  if (code === HttpErrorCode.UNAUTHORIZED) headers.push('www-authenticate', 'Bearer');
  return { status: HTTP_ERROR_STATUS[code], headers, body };
}

/** The health page: 200 while running, 503 while stopping. */
export function healthAnswer(stopping: boolean): AdminAnswer {
  return jsonAnswer(stopping ? 503 : 200, { status: stopping ? 'stopping' : 'ok' });
}

/** Writes an answer; `close` adds Connection: close (the request had a body that is not read). */
export function writeAnswer(res: ServerResponse, answer: AdminAnswer, close: boolean): void {
  if (res.destroyed) return;
  const headers = close ? [...answer.headers, 'connection', 'close'] : answer.headers;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

/** Whether an admin request has a body (it is not read, so its connection closes after the answer). */
export function hasBody(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  return headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
}
