/**
 * One HTTP worker of --workers: the same program (cluster re-runs main.js with the same
 * arguments, so the options are parsed again, not sent), serving HTTP on the shared port with
 * an HttpFrontEnd over a policy table that mirrors the primary's registered servers. It answers /health itself and relays
 * the other admin pages to the primary, which sees the whole broker. It exits when the primary
 * tells it to stop (after draining), on SIGTERM (the same way), or at once when the primary
 * goes away (cluster's own disconnect handling).
 */
import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorAnswer, hasBody, healthAnswer, writeAnswer } from '../admin/answer.js';
import { Interceptors } from '../hooks/interceptors.js';
import { openTraceStream, TRACE_EVENTS } from '../admin/trace-page.js';
import { Tracer } from '../trace/tracer.js';
import { TraceStream } from '../trace/trace-stream.js';
import { DecisionBatcher, RelayedTrace } from './trace-relay.js';
import { HttpFrontEnd } from '../http/http-front-end.js';
import { HttpErrorCode } from '../http/http-errors.js';
import { resolveBrokerOptions, type BrokerOptions } from '../options.js';
import { PolicyTable } from '../routing/policy-table.js';
import { withMeta } from '../support/logger.js';
import { listenerTls } from '../support/tls-files.js';
import { REPORT_INTERVAL_MS, snapshotBackends, snapshotStats, type WorkerReport } from './merged-http.js';
import { isMessage, type FromWorker, type ToWorker } from './messages.js';
import { applyEvent, applySnapshot, type ServerInfo } from './registry-mirror.js';

/** How long a relayed admin request waits for the primary. */
const ADMIN_TIMEOUT_MS = 5000;

interface PendingAdmin {
  res: ServerResponse;
  close: boolean;
  timer: NodeJS.Timeout;
}

/** Runs this process as an HTTP worker until the primary stops it. */
export function runWorker(input: Partial<BrokerOptions>): void {
  const base = resolveBrokerOptions(input);
  const log = withMeta(base.logger, { worker: cluster.worker?.id });
  const table = new PolicyTable(base.algorithm);
  const pending = new Map<number, PendingAdmin>();
  let seq = 0;
  let front: HttpFrontEnd | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  const send = (message: FromWorker, done?: () => void): void => {
    if (process.connected) process.send!(message, undefined, undefined, () => done?.());
    else done?.();
  };

  const report = (): WorkerReport => ({
    connections: front!.connectionCount,
    inflight: front!.inflight,
    rss: process.memoryUsage.rss(),
    stats: snapshotStats(front!.stats),
    backends: snapshotBackends(front!.backends()),
    upgrades: front!.upgradeFigures(),
    ...(front!.interceptors !== undefined && { hooks: front!.interceptors.counters.snapshot() }),
  });

  // The trace: this worker's HTTP decisions go to the primary, which logs the whole trace; a
  // dashboard stream opened here shows the primary's (trace-relay.ts).
  const settings = { on: base.trace, sample: base.traceSample };
  const tracer = new Tracer(undefined, settings);
  const toPrimary = new DecisionBatcher((decisions, dropped) => send({ t: 'trace-decisions', decisions, dropped }));
  tracer.listen({ decision: (d) => toPrimary.push(d), state: () => undefined });
  const relayed = new RelayedTrace(settings, (watching) => send({ t: 'trace-watch', watching }));
  const traceStream = new TraceStream(relayed);

  const admin = (req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): void => {
    const close = hasBody(req.headers);
    if (path === 'health') return writeAnswer(res, healthAnswer(stopping), close);
    if (path === TRACE_EVENTS) {
      const refused = openTraceStream(traceStream, req, res, authorized);
      if (refused !== undefined) writeAnswer(res, refused, close);
      return;
    }
    if (!process.connected) return writeAnswer(res, errorAnswer(HttpErrorCode.SHUTTING_DOWN, 'the broker is shutting down'), close);
    const n = ++seq;
    const timer = setTimeout(() => {
      pending.delete(n);
      writeAnswer(res, errorAnswer(HttpErrorCode.GATEWAY_TIMEOUT, `the broker's primary process did not answer within ${ADMIN_TIMEOUT_MS} ms`), close);
    }, ADMIN_TIMEOUT_MS);
    pending.set(n, { res, close, timer });
    send({ t: 'admin', seq: n, path, url: req.url ?? '', authorized, method: req.method ?? 'GET' });
  };

  const start = async (servers: readonly ServerInfo[], sharedPort: number | undefined): Promise<void> => {
    applySnapshot(table, servers);
    // Every worker listens on the same --http-port: with SO_REUSEPORT each binds its own
    // sockets on the port the primary claimed (sharedPort); without it cluster shares one
    // socket between them (with port 0 too: the workers get the port the first one was given).
    const options = { ...base, logger: log };
    const interceptors = options.interceptors.length > 0 ? new Interceptors(options.interceptors, log) : undefined;
    front = new HttpFrontEnd(table, options, log, admin, tracer, listenerTls(options), interceptors);
    let address;
    try {
      address = await front.listen(sharedPort);
    } catch (err) {
      send({ t: 'failed', message: (err as Error).message }, () => process.exit(1));
      return;
    }
    send({ t: 'listening', address });
    reportTimer = setInterval(() => send({ t: 'report', report: report() }), REPORT_INTERVAL_MS);
    reportTimer.unref();
  };

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (reportTimer !== undefined) clearInterval(reportTimer);
    traceStream.close();
    if (front === undefined) process.exit(0);
    await front.close(base.drainTimeoutMs);
    toPrimary.flush();
    // The last figures, so that the primary's totals include the drained requests.
    send({ t: 'report', report: report() }, () => process.exit(0));
  };

  process.on('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    switch (message.t) {
      case 'welcome':
        if (front === undefined) void start(message.servers, message.httpPort);
        return;
      case 'registry':
        applyEvent(table, message.event);
        return;
      case 'admin-answer': {
        const entry = pending.get(message.seq);
        if (entry === undefined) return;
        pending.delete(message.seq);
        clearTimeout(entry.timer);
        writeAnswer(entry.res, message.answer, entry.close);
        return;
      }
      case 'trace-state':
        tracer.set(message.settings);
        relayed.setState(message.settings);
        return;
      case 'trace-feed':
        relayed.feed(message.decisions);
        return;
      case 'stop':
        void stop();
        return;
      case 'reload':
        try {
          front?.reloadServers();
        } catch {
          // Logged by the reload; the running backends stay.
        }
        return;
    }
  });
  // A terminal's Ctrl-C reaches every process of the group: the primary stops the workers.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  send({ t: 'hello' });
}
