/**
 * The admin side of the routing trace: what a POST to <admin prefix>trace may change, and the
 * answers that refuse an event stream. Apart from pages.ts so that an HTTP worker, which serves
 * the stream itself, loads only this.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorAnswer, type AdminAnswer } from './answer.js';
import { HttpErrorCode } from '../http/http-errors.js';
import type { DecisionFilter, TraceStream } from '../trace/trace-stream.js';

/** What follows the admin prefix for the trace's event stream. */
export const TRACE_EVENTS = 'trace/events';

/**
 * Opens the event stream of `trace/events?policy=<n>&server=<id or address>` on `res`; or, when
 * it is refused (token, method, filter, too many streams), the answer to write instead.
 */
export function openTraceStream(stream: TraceStream, req: IncomingMessage, res: ServerResponse, authorized: boolean): AdminAnswer | undefined {
  if (!authorized) return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>');
  if (req.method !== 'GET') return errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, 'the trace stream takes GET');
  const filter = streamFilter(queryOf(req.url));
  if (typeof filter === 'string') return errorAnswer(HttpErrorCode.BAD_REQUEST, filter);
  const refused = stream.open(res, filter, req.socket.remoteAddress ?? '');
  if (refused === undefined) return undefined;
  if (refused === 'address') return errorAnswer(HttpErrorCode.OVERLOADED, `${stream.maxPerAddress} trace streams are open from your address already; close one`);
  return errorAnswer(HttpErrorCode.OVERLOADED, `${stream.maxClients} trace streams are open already; close a dashboard`);
}

/** The decisions a stream asks for (`policy`, `server`), or why the query is wrong. */
export function streamFilter(query: URLSearchParams): DecisionFilter | undefined | string {
  const policy = query.get('policy');
  const server = query.get('server');
  if (policy === null && server === null) return undefined;
  const filter: DecisionFilter = {};
  if (policy !== null) {
    if (!/^\d{1,15}$/.test(policy)) return `policy must be a whole number, got "${policy}"`;
    filter.policy = Number(policy);
  }
  if (server !== null) {
    if (server === '') return 'server must be a server id or a backend address';
    filter.server = server;
  }
  return filter;
}

/** The query of a request target. */
export function queryOf(url: string | undefined): URLSearchParams {
  const query = url?.indexOf('?') ?? -1;
  return new URLSearchParams(query === -1 ? '' : url!.slice(query + 1));
}

/** The change a POST to the trace page asks for, or why it cannot be made. */
export function traceChange(query: URLSearchParams): { on?: boolean; sample?: number } | string {
  const change: { on?: boolean; sample?: number } = {};
  const on = query.get('on');
  if (on !== null) {
    if (/^(?:true|1|on)$/i.test(on)) change.on = true;
    else if (/^(?:false|0|off)$/i.test(on)) change.on = false;
    else return `on must be true or false, got "${on}"`;
  }
  const sample = query.get('sample');
  if (sample !== null) {
    const n = Number(sample);
    if (sample.trim() === '' || !(n > 0 && n <= 1)) return `sample must be a fraction above 0, at most 1, got "${sample}"`;
    change.sample = n;
  }
  if (on === null && sample === null) return 'say what to change: ?on=true|false and/or ?sample=<fraction>';
  return change;
}
