/**
 * Health of the HTTP backends. Passive, as nginx's max_fails and fail_timeout: --max-fails
 * failed requests in a row (no answer relayed between them) within --fail-timeout take a
 * backend out; one reset among thousands of answers does not. What counts is upstream-failure.ts's
 * verdict: a reused keep-alive connection the backend closed as the request went out is not a
 * failure, and failures that look like a connection limit never take out the last live backend
 * of a policy (with none left, every request would fail instead of some). Active: every
 * --health-interval each backend is asked for a path on a connection of its own (not its
 * request pool, so a busy backend is not failed for its queue); see healthProbe() for which
 * path and which answers pass. --health-fall failures in a row take a backend out,
 * --health-rise passes in a row bring it back. With active checks off, a backend taken out by
 * failed requests comes back after --fail-timeout. An HTTPS backend is checked over HTTPS, with
 * the same certificate checks as its requests (backend-tls.ts); a TLS failure is logged.
 */
import { Pool } from 'undici';
import { describeError } from '../support/describe-error.js';
import type { Logger } from '../support/logger.js';
import type { Endpoint, Member } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import { BackendTls, tlsFailure } from './backend-tls.js';
import { HttpErrorCode } from './http-errors.js';
import type { UpstreamFailure, Verdict } from './upstream-failure.js';
import { ANSWERED, CHECK_PASSED, ERRORED, Liveness, RETRY } from '../routing/liveness.js';

export interface HealthSettings {
  /** --health-path; undefined when not set (see healthProbe()). */
  path: string | undefined;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** Failed requests in a row that take a backend out (--max-fails). */
  maxFails: number;
  /** The window they must fall in, and (without active checks) how long a backend stays out. */
  failTimeoutMs: number;
  /** Authorization header for the checks (the upstream token), if any. */
  authorization: string | undefined;
}

/** The most of a check's response body that is read (and thrown away). */
const MAX_CHECK_BODY = 64 * 1024;

/** What an active check asks for and which answers pass. */
export interface HealthProbe {
  path: string;
  passes(status: number): boolean;
  /** Why a failed answer failed, with the flag to set when the path is the problem. */
  explain(status: number): string;
}

/**
 * The check for a --health-path (undefined when not set). Without one a backend is asked for
 * `/` and passes with any status below 500: the classic assignment's nginx sites serve a
 * static root and no /health, and answer `/` with 200, 403 (no index file) or 404, all of
 * which say the server is alive. A path the user set must answer 2xx or 3xx; a 404 there means
 * the server does not serve that path, and the message says which flag to change.
 */
export function healthProbe(path: string | undefined): HealthProbe {
  if (path === undefined) {
    return {
      path: '/',
      passes: (status) => status < 500,
      explain: (status) => `health check of / answered ${status}`,
    };
  }
  return {
    path,
    passes: (status) => status >= 200 && status < 400,
    explain: (status) =>
      status === 404
        ? `health check of ${path} answered 404: this server has no ${path}; set --health-path to a path it serves, or leave --health-path unset to check / (any status below 500 passes)`
        : `health check of ${path} answered ${status}`,
  };
}

export class HealthMonitor implements TableObserver {
  private timer: NodeJS.Timeout | undefined;
  private readonly checking = new Set<Endpoint>();
  private readonly reviveTimers = new Map<Endpoint, NodeJS.Timeout>();
  /** The rules that move an HTTP endpoint's state (routing/liveness.ts): this file only reports to them. */
  readonly liveness: Liveness;
  /** One connection per backend for its checks, HTTP or HTTPS as its requests. */
  private readonly checkers = new Map<Endpoint, Pool>();
  private readonly headers: Record<string, string>;
  private readonly probe: HealthProbe;
  private stopped = false;

  constructor(
    private readonly table: PolicyTable,
    private readonly settings: HealthSettings,
    private readonly log: Logger,
    /** How each backend is reached: plain HTTP unless it is an HTTPS backend. */
    private readonly tls = new BackendTls(undefined),
  ) {
    this.liveness = new Liveness(table, { rise: settings.rise, fall: settings.fall, maxFails: settings.maxFails, failWindowMs: settings.failTimeoutMs });
    this.probe = healthProbe(settings.path);
    this.headers = { 'user-agent': 'policy-broker-health-check' };
    if (settings.authorization !== undefined) this.headers.authorization = settings.authorization;
  }

  /** Checks every backend now, then every interval (when active checks are on). */
  start(): void {
    if (this.settings.intervalMs === 0) return;
    this.round();
    this.timer = setInterval(() => this.round(), this.settings.intervalMs);
    this.timer.unref();
  }

  /** Stops checking and closes the checks' connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const timer of this.reviveTimers.values()) clearTimeout(timer);
    this.reviveTimers.clear();
    const checkers = [...this.checkers.values()];
    this.checkers.clear();
    await Promise.all(checkers.map((checker) => checker.destroy().catch(() => undefined)));
  }

  /** A request was answered: a backend still connecting is up, and its failures are no longer in a row. */
  answered(backend: Endpoint): void {
    this.liveness.report(backend, ANSWERED);
  }

  /**
   * What a failed attempt (a request or an upgrade handshake, before its response head) says
   * of its backend: a stale keep-alive connection nothing, an error answer of its own a
   * failure on the status page, anything else a passive failure (passiveFailure).
   */
  attemptFailed(backend: Endpoint, failure: UpstreamFailure): void {
    if (failure.verdict === 'stale') return;
    if (failure.verdict !== 'none') this.passiveFailure(backend, failure.message, failure.verdict);
    else if (failure.code !== HttpErrorCode.BAD_REQUEST) this.liveness.report(backend, ERRORED);
  }

  /**
   * A request found the backend refusing, resetting or timing out (`verdict` says which kind,
   * see upstream-failure.ts): out after --max-fails in a row within --fail-timeout.
   */
  passiveFailure(backend: Endpoint, reason: string, verdict: Exclude<Verdict, 'stale' | 'none'> = 'failure'): void {
    // Once per new reason: a backend failing every request would otherwise log each one.
    if (verdict === 'tls' && backend.lastError !== reason) this.log.warn('TLS to HTTP server failed', this.named(backend, reason));
    const moved = this.liveness.report(backend, { kind: 'failed', reason, overload: verdict === 'overload' });
    // Without active checks nothing would bring it back: it is tried again after --fail-timeout.
    if (moved === 'down' && this.settings.intervalMs === 0 && !this.stopped) {
      const timer = setTimeout(() => {
        this.reviveTimers.delete(backend);
        this.liveness.report(backend, RETRY);
      }, this.settings.failTimeoutMs);
      timer.unref();
      this.reviveTimers.set(backend, timer);
    }
  }

  /** TableObserver: forgets a backend that left the table. */
  removed(member: Member): void {
    const backend = member.http;
    if (backend === undefined) return;
    const timer = this.reviveTimers.get(backend);
    if (timer !== undefined) clearTimeout(timer);
    this.reviveTimers.delete(backend);
    this.liveness.removed(member);
    const checker = this.checkers.get(backend);
    this.checkers.delete(backend);
    checker?.destroy().catch(() => undefined);
  }

  private named(backend: Endpoint, reason: string): Record<string, unknown> {
    return { id: backend.id, policy: backend.policy, address: backend.address, source: backend.source, reason };
  }

  /** The backend's check connection, made on its first check. */
  private checker(backend: Endpoint): Pool {
    let checker = this.checkers.get(backend);
    if (checker === undefined) {
      const t = this.settings.timeoutMs;
      checker = new Pool(this.tls.origin(backend), { connections: 1, pipelining: 1, headersTimeout: t, bodyTimeout: t, connect: this.tls.connect(backend, t) });
      this.checkers.set(backend, checker);
    }
    return checker;
  }

  private round(): void {
    for (const backend of this.table.endpoints('http')) {
      if (!this.checking.has(backend)) void this.check(backend);
    }
  }

  private async check(backend: Endpoint): Promise<void> {
    this.checking.add(backend);
    let passed = false;
    let outcome: string;
    try {
      const { statusCode, body } = await this.checker(backend).request({
        path: this.probe.path,
        method: 'GET',
        headers: this.headers,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await body.dump({ limit: MAX_CHECK_BODY });
      passed = this.probe.passes(statusCode);
      outcome = this.probe.explain(statusCode);
    } catch (err) {
      const tls = tlsFailure(err as Error);
      outcome = tls === undefined ? `health check failed: ${describeError(err)}` : `health check failed: TLS to ${backend.address}: ${tls.text}`;
      if (tls !== undefined && backend.lastError !== outcome && backend.member.present) this.log.warn('TLS to HTTP server failed', this.named(backend, outcome));
    } finally {
      this.checking.delete(backend);
    }
    if (this.stopped || !backend.member.present) return;
    if (passed) this.passed(backend);
    else this.failed(backend, outcome);
  }

  private passed(backend: Endpoint): void {
    this.liveness.report(backend, CHECK_PASSED);
  }

  private failed(backend: Endpoint, reason: string): void {
    const fails = this.liveness.report(backend, { kind: 'check-failed', reason });
    if (fails === 'down') this.log.debug('http server failed its health checks', { address: backend.address });
  }
}
