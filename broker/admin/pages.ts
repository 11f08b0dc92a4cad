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
import { bodyAnswer, errorAnswer, hasBody, healthAnswer, jsonAnswer, writeAnswer, type AdminAnswer } from './answer.js';
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
    if (path.startsWith(API_PREFIX) && this.api !== undefined) return this.api.handle(req, res, path.slice(API_PREFIX.length), authorized);
    const close = hasBody(req.headers);
    if (path === TRACE_EVENTS) {
      const refused = openTraceStream(this.traceStream, req, res, authorized);
      if (refused !== undefined) writeAnswer(res, refused, close);
      return;
    }
    const answer = this.answer(path, req.url, authorized, req.method);
    if ('then' in answer) void answer.then((a) => writeAnswer(res, a, close));
    else writeAnswer(res, answer, close);
  }

  /**
   * The answer to `path` (what follows the prefix, without the query) of request target `url`;
   * a promise for the metrics, which prom-client renders asynchronously.
   */
  answer(path: string, url: string | undefined, authorized: boolean, method = 'GET'): AdminAnswer | Promise<AdminAnswer> {
    const src = this.src;
    if (path === 'health') return healthAnswer(src.stopping());
    if (path.startsWith(API_PREFIX)) return errorAnswer(HttpErrorCode.NOT_FOUND, 'the runtime API is not served with --workers yet; SIGHUP to the primary reloads servers.conf in every worker');
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
