/**
 * An admin page's answer as plain data (status, headers, body), written to the response by
 * whoever holds it: the front end that asked (one process), or a worker relaying the
 * primary's answer over IPC (--workers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/**
 * One request under the admin prefix as plain data, so that whoever answers it needs no socket:
 * the pages of this process, or the --workers primary, to which a worker relays it over IPC.
 */
export interface AdminRequest {
  /** What follows the admin prefix, without the query. */
  path: string;
  /** The request target, with its query. */
  url: string;
  method: string;
  /** Whether it carried --http-token (or none is needed). */
  authorized: boolean;
  /** Its Authorization header, for the runtime API's write check (--admin-token). */
  authorization: string | undefined;
  /** Who asked (the peer address), for the log of changes. */
  who: string;
  /** The body of a runtime API call, read up to MAX_ADMIN_BODY_BYTES; undefined for the pages. */
  body?: string;
}

/** The longest admin request body read (a runtime API call is a small JSON object). */
export const MAX_ADMIN_BODY_BYTES = 4096;

/** The request's body as text; rejects past `max` bytes (and stops reading). */
export function readBody(req: IncomingMessage, max = MAX_ADMIN_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        // Read no more (bounded cost); the answer closes the connection, so the rest is never read.
        req.removeAllListeners('data');
        req.pause();
        reject(new BodyTooLarge(`over ${max} bytes: an API body is a small JSON object`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class BodyTooLarge extends Error {}
