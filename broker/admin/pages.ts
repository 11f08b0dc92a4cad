/**
 * The broker's own pages, under the admin prefix of the HTTP listener (default /_broker/),
 * never proxied:
 *
 * - `` (the prefix itself): the live dashboard (dashboard-page.ts); the page holds no data.
 * - `health`: 200 while running, 503 while stopping.
 * - `status`: the status report (status.ts), JSON.
 * - `metrics`: Prometheus text format (metrics.ts).
 * - `activity`: answers per policy per second over the last minutes, and the recent errors
 *   (activity.ts), JSON; `?since=<ms>` returns only the newer samples.
 * - `trace`: GET: the routing trace's state and its last decisions, JSON; POST `?on=true|false`
 *   and/or `&sample=<fraction>`: switches it (trace/tracer.ts).
 * - `trace/events`: the decisions as server-sent events (trace/trace-stream.ts).
 *
 * - `api/…`: the runtime API (runtime-api.ts): servers, drain, weights, reload.
 *
 * When --http-token is set, status, metrics, activity and trace need it; health and the page do not.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpErrorCode } from '../http/http-errors.js';
import { Activity } from './activity.js';
import { BodyTooLarge, bodyAnswer, errorAnswer, hasBody, healthAnswer, jsonAnswer, readBody, writeAnswer, type AdminAnswer, type AdminRequest } from './answer.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { BrokerMetrics } from './metrics.js';
import type { RuntimeApi } from './runtime-api.js';
import { statusReport, type StatusSources } from './status.js';
import type { Tracer } from '../trace/tracer.js';
import { TraceStream } from '../trace/trace-stream.js';
import { openTraceStream, queryOf, TRACE_EVENTS, traceChange } from './trace-page.js';

/** The runtime API's pages: api/servers, api/servers/KEY, api/reload. */
export const API_PREFIX = 'api/';

const DASHBOARD = bodyAnswer(200, DASHBOARD_HTML, 'text/html; charset=utf-8', ['content-security-policy', DASHBOARD_CSP, 'x-frame-options', 'DENY']);

export class AdminPages {
  /** Made by start(), so that prom-client's process metrics (CPU seconds) count from then, not from the first scrape. */
  private metrics: BrokerMetrics | undefined;
  readonly activity: Activity;
  readonly traceStream: TraceStream;

  constructor(
    private readonly src: StatusSources,
    private readonly tracer: Tracer,
    /** The runtime API; undefined where it is not served (the --workers workers relay no bodies). */
    private readonly api?: RuntimeApi,
  ) {
    this.activity = new Activity(src);
    this.traceStream = new TraceStream(tracer);
  }

  /** Starts sampling the activity the dashboard draws, and the default process metrics. */
  start(): void {
    this.activity.start();
    this.metrics ??= new BrokerMetrics(this.src);
  }

  stop(): void {
    this.activity.stop();
    this.traceStream.close();
  }

  /** Answers one request under the admin prefix; `path` is what follows the prefix, without the query. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): void {
    serveAdmin(req, res, path, authorized, this.traceStream, (request) => this.answer(request));
  }

  /** The answer to one admin request; a promise for the metrics (prom-client renders asynchronously) and the reload. */
  answer(request: AdminRequest): AdminAnswer | Promise<AdminAnswer> {
    const { path, url, authorized, method } = request;
    const src = this.src;
    if (path === 'health') return healthAnswer(src.stopping());
    if (path.startsWith(API_PREFIX)) {
      if (this.api === undefined) return errorAnswer(HttpErrorCode.NOT_FOUND, 'this broker serves no runtime API');
      return this.api.answer(path.slice(API_PREFIX.length), request);
    }
    if (path === '') return DASHBOARD;
    if (path !== 'status' && path !== 'metrics' && path !== 'activity' && path !== 'trace') return errorAnswer(HttpErrorCode.NOT_FOUND, `no such broker page: ${path}`);
    if (!authorized) return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>');
    if (path === 'trace') return this.trace(url, method);
    if (path === 'status') return jsonAnswer(200, statusReport(src));
    if (path === 'activity') return jsonAnswer(200, this.activity.report(sinceOf(url)));
    this.metrics ??= new BrokerMetrics(src);
    const metrics = this.metrics;
    return metrics.text().then(
      (text) => bodyAnswer(200, text, metrics.contentType),
      (err: Error) => bodyAnswer(500, `metrics failed: ${err.message}\n`, 'text/plain; charset=utf-8'),
    );
  }

  /** GET: the trace's state and last decisions; POST: switches it as the query says. */
  private trace(url: string | undefined, method: string): AdminAnswer {
    if (method === 'POST') {
      const change = traceChange(queryOf(url));
      if (typeof change === 'string') return errorAnswer(HttpErrorCode.BAD_REQUEST, change);
      this.tracer.set(change);
    } else if (method !== 'GET' && method !== 'HEAD') {
      return errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, 'the trace page takes GET, or POST ?on=true|false&sample=<fraction>');
    }
    const stream = this.traceStream;
    return jsonAnswer(200, {
      ...this.tracer.settings(),
      recorded: this.tracer.recorded,
      lost: this.tracer.lost,
      streams: stream.clientCount,
      maxStreams: stream.maxClients,
      dropped: stream.dropped,
      recent: this.tracer.recentDecisions(),
    });
  }
}

/** The `since` query parameter (ms since the epoch), when it is a number. */
function sinceOf(url: string | undefined): number | undefined {
  const since = Number(queryOf(url).get('since') ?? NaN);
  return Number.isFinite(since) ? since : undefined;
}

/**
 * Serves one request under the admin prefix: the trace's event stream from `stream` (held open
 * here), everything else as an AdminRequest handed to `answer`, which is this process's pages or,
 * in a --workers worker, the relay to the primary. A runtime API write's body is read first, up
 * to MAX_ADMIN_BODY_BYTES; any other body is not read, and its connection closes after the answer.
 */
export function serveAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  authorized: boolean,
  stream: TraceStream,
  answer: (request: AdminRequest) => AdminAnswer | Promise<AdminAnswer>,
): void {
  const close = hasBody(req.headers);
  if (path === TRACE_EVENTS) {
    const refused = openTraceStream(stream, req, res, authorized);
    if (refused !== undefined) writeAnswer(res, refused, close);
    return;
  }
  const request: AdminRequest = {
    path,
    url: req.url ?? '',
    method: req.method ?? 'GET',
    authorized,
    authorization: req.headers.authorization,
    who: req.socket.remoteAddress ?? 'unknown',
  };
  const reply = (a: AdminAnswer | Promise<AdminAnswer>, closing: boolean): void => {
    if ('then' in a) void a.then((done) => writeAnswer(res, done, closing));
    else writeAnswer(res, a, closing);
  };
  if (!(path.startsWith(API_PREFIX) && close && (request.method === 'PATCH' || request.method === 'POST'))) return reply(answer(request), close);
  void readBody(req).then(
    (body) => reply(answer({ ...request, body }), false),
    (err: Error) => writeAnswer(res, errorAnswer(err instanceof BodyTooLarge ? HttpErrorCode.PAYLOAD_TOO_LARGE : HttpErrorCode.BAD_REQUEST, err.message), true),
  );
}
