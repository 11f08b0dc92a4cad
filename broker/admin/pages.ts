/**
 * The broker's own pages, under the admin prefix of the HTTP listener (default /_broker/),
 * never proxied: `status` (status.ts) and `health` (200 while running, 503 while stopping).
 * When --http-token is set, status needs it; health does not, so that a load balancer in
 * front can ask. New pages (metrics, a dashboard) are added here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpErrorCode, sendError } from '../http/http-errors.js';
import { statusReport, type StatusSources } from './status.js';

/** Answers one request under the admin prefix; `path` is what follows the prefix. */
export function handleAdmin(src: StatusSources, req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): void {
  const close = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (path === 'health') {
    sendJson(res, src.stopping() ? 503 : 200, { status: src.stopping() ? 'stopping' : 'ok' }, close);
  } else if (path === 'status') {
    if (!authorized) sendError(res, HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>', undefined, close);
    else sendJson(res, 200, statusReport(src), close);
  } else {
    sendError(res, HttpErrorCode.NOT_FOUND, `no such broker page: ${path}`, undefined, close);
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown, close: boolean): void {
  const body = JSON.stringify(value);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store'];
  if (close) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
}
