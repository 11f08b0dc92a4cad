/**
 * One HTTP worker of --workers: the same program (cluster re-runs main.js with the same
 * arguments, so the options are parsed again, not sent), serving HTTP on the shared port. It is a
 * broker that follows a registry it does not own: its table follows a read-only store fed by the
 * primary (registry/relayed-store.ts), as a second broker's follows Redis, and its HTTP half is the one
 * composition (http-composition.ts) with the admin pages relayed to the primary, which sees the
 * whole broker (health is answered here). It exits when the primary tells it to stop (after
 * draining), on SIGTERM (the same way), or at once when the primary goes away (cluster's own
 * disconnect handling).
 */
import cluster from 'node:cluster';
import { errorAnswer, healthAnswer, type AdminAnswer, type AdminRequest } from '../admin/answer.js';
import { TableControl } from '../admin/runtime-api.js';
import { Interceptors } from '../hooks/interceptors.js';
import { snapshotBackends } from '../http/backend-view.js';
import { HttpErrorCode } from '../http/http-errors.js';
import { startHttp, type HttpHalf } from '../http-composition.js';
import { resolveBrokerOptions, type BrokerOptions } from '../options.js';
import { expiryGraceMs, followStore } from '../registry/membership.js';
import { PolicyTable } from '../routing/policy-table.js';
import { Liveness } from '../routing/liveness.js';
import { withMeta } from '../support/logger.js';
import { listenerTls } from '../support/tls-files.js';
import { Tracer } from '../trace/tracer.js';
import { REPORT_INTERVAL_MS, type WorkerReport } from '../admin/merged-http.js';
import { isMessage, type FromWorker, type LinkState, type ToWorker } from './messages.js';
import { RelayedStore } from '../registry/relayed-store.js';
import { DecisionBatcher } from '../trace/decision-batcher.js';

/** How long a relayed admin request waits for the primary. */
const ADMIN_TIMEOUT_MS = 5000;

/** Runs this process as an HTTP worker until the primary stops it. */
export function runWorker(input: Partial<BrokerOptions>): void {
  const options = resolveBrokerOptions(input);
  const log = withMeta(options.logger, { worker: cluster.worker?.id });
  const table = new PolicyTable(options.algorithm);
  const store = new RelayedStore();
  // The same grace as the primary's table, so that both hold a moving session server alike.
  followStore(store, table, { expiryGraceMs: expiryGraceMs({ shared: options.registry !== undefined, heartbeatMs: options.heartbeatMs, heartbeatMisses: options.heartbeatMisses, resyncMs: options.registryResyncMs }) });
  const servers = new TableControl(table);
  const pending = new Map<number, { resolve(answer: AdminAnswer): void; timer: NodeJS.Timeout }>();
  let seq = 0;
  let http: HttpHalf | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  const send = (message: FromWorker, done?: () => void): void => {
    if (process.connected) process.send!(message, undefined, undefined, () => done?.());
    else done?.();
  };

  const report = (front: HttpHalf['front']): WorkerReport => ({
    connections: front.connectionCount,
    inflight: front.inflight,
    rss: process.memoryUsage.rss(),
    stats: front.stats.snapshot(),
    backends: snapshotBackends(front.backends()),
    upgrades: front.upgradeFigures(),
    ...(front.interceptors !== undefined && { hooks: front.interceptors.counters.snapshot() }),
  });

  // The trace: this worker's HTTP decisions go to the primary, which logs the whole trace; the
  // dashboard's stream here shows the primary's, copied into `primaryTrace` while one is open.
  const settings = { on: options.trace, sample: options.traceSample };
  const trace = new Tracer(undefined, settings);
  const toPrimary = new DecisionBatcher((decisions, dropped) => send({ t: 'trace-decisions', decisions, dropped }));
  trace.listen({ decision: (d) => toPrimary.push(d), state: () => undefined });
  const primaryTrace = new Tracer(undefined, settings);
  primaryTrace.whenWatched((watching) => send({ t: 'trace-watch', watching }));

  const relay = (request: AdminRequest): AdminAnswer | Promise<AdminAnswer> => {
    if (request.path === 'health') return healthAnswer(stopping);
    if (!process.connected) return errorAnswer(HttpErrorCode.SHUTTING_DOWN, 'the broker is shutting down');
    const n = ++seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(n);
        resolve(errorAnswer(HttpErrorCode.GATEWAY_TIMEOUT, `the broker's primary process did not answer within ${ADMIN_TIMEOUT_MS} ms`));
      }, ADMIN_TIMEOUT_MS);
      pending.set(n, { resolve, timer });
      send({ t: 'admin', seq: n, request });
    });
  };

  /** The primary's view of a registered server's packet link (messages.ts 'link'): this worker has no links of its own. */
  const packetLinks = new Liveness(table);
  const linkState = ([id, generation, state]: LinkState): void => {
    const endpoint = table.get(id)?.packets;
    if (endpoint !== undefined && endpoint.member.info.generation === generation) packetLinks.observedElsewhere(endpoint, state);
  };

  const start = async (sharedPort: number | undefined): Promise<void> => {
    // Every worker listens on the same --http-port: with SO_REUSEPORT each binds its own
    // sockets on the port the primary claimed (sharedPort); without it cluster shares one
    // socket between them (with port 0 too: the workers get the port the first one was given).
    const ownOptions = { ...options, logger: log };
    const interceptors = options.interceptors.length > 0 ? new Interceptors(options.interceptors, log) : undefined;
    try {
      const admin = { kind: 'relayed' as const, answer: relay, trace: primaryTrace };
      http = await startHttp({ table, options: ownOptions, log, trace, tls: listenerTls(options), interceptors, admin, ...(sharedPort !== undefined && { sharedPort }) });
    } catch (err) {
      send({ t: 'failed', message: (err as Error).message }, () => process.exit(1));
      return;
    }
    const front = http.front;
    send({ t: 'listening', address: front.address()! });
    reportTimer = setInterval(() => send({ t: 'report', report: report(front) }), REPORT_INTERVAL_MS);
    reportTimer.unref();
  };

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (reportTimer !== undefined) clearInterval(reportTimer);
    if (http === undefined) process.exit(0);
    http.stopAdmin();
    await http.front.close(options.drainTimeoutMs);
    toPrimary.flush();
    // The last figures, so that the primary's totals include the drained requests.
    send({ t: 'report', report: report(http.front) }, () => process.exit(0));
  };

  process.on('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    switch (message.t) {
      case 'welcome':
        if (http !== undefined) return;
        store.load(message.entries);
        for (const link of message.links) linkState(link);
        void start(message.httpPort);
        return;
      case 'store':
        store.apply(message.event);
        return;
      case 'link':
        linkState(message.link);
        return;
      case 'change':
        // The primary logged it with who asked; each worker applies it to its own table.
        servers.change(message.key, message.change);
        if (message.seq !== undefined) send({ t: 'done', seq: message.seq });
        return;
      case 'admin-answer': {
        const entry = pending.get(message.seq);
        if (entry === undefined) return;
        pending.delete(message.seq);
        clearTimeout(entry.timer);
        entry.resolve(message.answer);
        return;
      }
      case 'trace-state':
        trace.set(message.settings);
        primaryTrace.set(message.settings);
        return;
      case 'trace-feed':
        primaryTrace.merge(message.decisions);
        return;
      case 'stop':
        void stop();
        return;
      case 'reload': {
        const { seq: asked } = message;
        try {
          const result = http?.front.reloadServers();
          if (asked !== undefined) send({ t: 'done', seq: asked, ...(result !== undefined && { result }) });
        } catch (err) {
          // Logged by the reload; the running backends stay.
          if (asked !== undefined) send({ t: 'done', seq: asked, error: (err as Error).message });
        }
        return;
      }
    }
  });
  // A terminal's Ctrl-C reaches every process of the group: the primary stops the workers.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  send({ t: 'hello' });
}
