/**
 * The admin side of the routing trace: what a POST to <admin prefix>trace may change, and the
 * answers that refuse an event stream. Apart from pages.ts so that an HTTP worker, which serves
 * the stream itself, loads only this.
 */
import { errorAnswer, type AdminAnswer } from './answer.js';
import { HttpErrorCode } from '../http/http-errors.js';

/** What follows the admin prefix for the trace's event stream. */
export const TRACE_EVENTS = 'trace/events';

/** Why the event stream is refused before the stream limit is checked; undefined: it is not. */
export function streamRefusal(authorized: boolean, method: string | undefined): AdminAnswer | undefined {
  if (!authorized) return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>');
  if (method !== 'GET') return errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, 'the trace stream takes GET');
  return undefined;
}

export function tooManyStreams(max: number): AdminAnswer {
  return errorAnswer(HttpErrorCode.OVERLOADED, `${max} trace streams are open already; close a dashboard`);
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
