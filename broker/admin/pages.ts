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
 *
 * When --http-token is set, status, metrics and activity need it; health and the page do not.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpErrorCode, sendError } from '../http/http-errors.js';
import { Activity } from './activity.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { BrokerMetrics } from './metrics.js';
import { statusReport, type StatusSources } from './status.js';

const DASHBOARD_BODY = Buffer.from(DASHBOARD_HTML);

export class AdminPages {
  /** Made on the first scrape. */
  private metrics: BrokerMetrics | undefined;
  readonly activity: Activity;

  constructor(private readonly src: StatusSources) {
    this.activity = new Activity(src);
  }

  /** Starts sampling the activity the dashboard draws. */
  start(): void {
    this.activity.start();
  }

  stop(): void {
    this.activity.stop();
  }

  /** Answers one request under the admin prefix; `path` is what follows the prefix, without the query. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): void {
    const close = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const src = this.src;
    if (path === 'health') {
      sendJson(res, src.stopping() ? 503 : 200, { status: src.stopping() ? 'stopping' : 'ok' }, close);
    } else if (path === '') {
      sendBody(res, 200, DASHBOARD_BODY, 'text/html; charset=utf-8', close, ['content-security-policy', DASHBOARD_CSP, 'x-frame-options', 'DENY']);
    } else if (path !== 'status' && path !== 'metrics' && path !== 'activity') {
      sendError(res, HttpErrorCode.NOT_FOUND, `no such broker page: ${path}`, undefined, close);
    } else if (!authorized) {
      sendError(res, HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>', undefined, close);
    } else if (path === 'status') {
      sendJson(res, 200, statusReport(src), close);
    } else if (path === 'activity') {
      sendJson(res, 200, this.activity.report(sinceOf(req.url)), close);
    } else {
      this.metrics ??= new BrokerMetrics(src);
      const metrics = this.metrics;
      metrics.text().then(
        (text) => sendBody(res, 200, Buffer.from(text), metrics.contentType, close),
        (err: Error) => sendBody(res, 500, Buffer.from(`metrics failed: ${err.message}\n`), 'text/plain; charset=utf-8', close),
      );
    }
  }
}

/** The `since` query parameter (ms since the epoch), when it is a number. */
function sinceOf(url: string | undefined): number | undefined {
  const query = url?.indexOf('?') ?? -1;
  if (query === -1) return undefined;
  const since = Number(new URLSearchParams(url!.slice(query + 1)).get('since') ?? NaN);
  return Number.isFinite(since) ? since : undefined;
}

function sendJson(res: ServerResponse, status: number, value: unknown, close: boolean): void {
  sendBody(res, status, Buffer.from(JSON.stringify(value)), 'application/json', close);
}

function sendBody(res: ServerResponse, status: number, body: Buffer, type: string, close: boolean, extra: string[] = []): void {
  if (res.destroyed) return;
  const headers = ['content-type', type, 'content-length', String(body.length), 'cache-control', 'no-store', 'x-content-type-options', 'nosniff', ...extra];
  if (close) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
}
