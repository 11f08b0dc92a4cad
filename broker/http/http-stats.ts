import type { HttpErrorCode } from './http-errors.js';
import { LatencyHistogram } from '../support/latency-histogram.js';
import { RecentErrors } from '../support/recent-errors.js';

/** The HTTP counters of one policy (requests that reached the proxy: the policy had servers). */
export class HttpPolicyStats {
  /** Responses relayed from backends. */
  replied = 0;
  /** Answers the broker gave itself for requests of this policy, by code. */
  readonly errors: Partial<Record<HttpErrorCode, number>> = {};
  /** Time from the request's arrival to the end of the relayed response. */
  readonly latency = new LatencyHistogram();
  /** Relayed responses by server (id, or address for a static one) and status code. */
  readonly byServer = new Map<string, Map<number, number>>();

  constructor(readonly policy: number) {}
}

/** Counters of the HTTP front end, read by status and metrics. Plain fields: they are bumped per request. */
export class HttpStats {
  /** Requests received, proxied or answered by the broker itself. */
  requests = 0;
  /** Responses relayed from backends (any status). */
  proxied = 0;
  /** Requests sent to another backend after one failed. */
  retries = 0;
  /** Requests whose client went away before the answer was complete. */
  clientAborts = 0;
  /** Responses cut short because the backend failed after its headers were sent on. */
  truncated = 0;
  /** Answers the broker gave itself, by code (401, 404, 502, 503, 504, …). */
  readonly errors: Partial<Record<HttpErrorCode, number>> = {};
  /** The last error answers, for the dashboard. */
  readonly recentErrors = new RecentErrors();
  private readonly byPolicy = new Map<number, HttpPolicyStats>();

  /** Counts an error answer; with the request's policy once it was known to have servers. */
  countError(code: HttpErrorCode, policy?: number, message = ''): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (policy !== undefined) {
      const p = this.policy(policy);
      p.errors[code] = (p.errors[code] ?? 0) + 1;
    }
    this.recentErrors.add(code, policy, message);
  }

  /**
   * Counts, per policy, a response relayed whole from `server` (an id, or an address) for a
   * request of `policy` that arrived at `startedAt` (performance.now()). The caller counts
   * `proxied`.
   */
  countResponse(policy: number, server: string, status: number, startedAt: number): void {
    const p = this.policy(policy);
    p.replied++;
    p.latency.observe(performance.now() - startedAt);
    let statuses = p.byServer.get(server);
    if (statuses === undefined) {
      statuses = new Map();
      p.byServer.set(server, statuses);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }

  /** The counters of one policy, created on first use. */
  policy(policy: number): HttpPolicyStats {
    let p = this.byPolicy.get(policy);
    if (p === undefined) {
      p = new HttpPolicyStats(policy);
      this.byPolicy.set(policy, p);
    }
    return p;
  }

  policies(): IterableIterator<HttpPolicyStats> {
    return this.byPolicy.values();
  }
}
