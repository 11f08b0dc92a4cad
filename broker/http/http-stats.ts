import type { HttpErrorCode } from './http-errors.js';
import { FORGOTTEN_POLICY, foldPolicyCounters, MAX_GONE_KEPT } from '../stats.js';
import { BoundedTable } from '../support/bounded-table.js';
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

/** Servers of one policy whose responses are counted apart; the responses of others are counted under OTHER_SERVER. */
export const MAX_SERVERS_PER_POLICY = 64;
export const OTHER_SERVER = 'other';

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
  /**
   * True while a policy has backends: its counters are kept. Those of policies without any are
   * kept up to MAX_GONE_KEPT, then summed under FORGOTTEN_POLICY (as PacketStats does).
   */
  isLive: (policy: number) => boolean = () => false;
  private readonly byPolicy = new BoundedTable<number, HttpPolicyStats>(
    MAX_GONE_KEPT,
    (policy) => new HttpPolicyStats(policy ?? FORGOTTEN_POLICY),
    (into, from) => {
      foldPolicyCounters(into, from);
      for (const [server, statuses] of from.byServer) for (const [status, n] of statuses) addStatus(into, server, status, n);
    },
    (policy) => this.isLive(policy),
  );

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
    addStatus(p, server, status, 1);
  }

  /** The counters of one policy, created on first use. */
  policy(policy: number): HttpPolicyStats {
    return this.byPolicy.entry(policy);
  }

  /** The policies counted, then (FORGOTTEN_POLICY) the sum of those forgotten. */
  *policies(): IterableIterator<HttpPolicyStats> {
    yield* this.byPolicy.values();
    if (this.byPolicy.other !== undefined) yield this.byPolicy.other;
  }

  /** Forgets the counters of gone policies beyond MAX_GONE_KEPT (called when backends leave). */
  trim(): void {
    this.byPolicy.trim();
  }
}

/** Counts `n` responses of `status` from `server`; past MAX_SERVERS_PER_POLICY servers, under OTHER_SERVER. */
function addStatus(p: HttpPolicyStats, server: string, status: number, n: number): void {
  let statuses = p.byServer.get(server);
  if (statuses === undefined) {
    const key = p.byServer.size < MAX_SERVERS_PER_POLICY ? server : OTHER_SERVER;
    statuses = p.byServer.get(key);
    if (statuses === undefined) {
      statuses = new Map();
      p.byServer.set(key, statuses);
    }
  }
  statuses.set(status, (statuses.get(status) ?? 0) + n);
}
