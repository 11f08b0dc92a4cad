/**
 * The HTTP transport of the attempt policy (routing/attempts.ts): what the policy's pick, send,
 * re-route and settle mean for a proxied request. It owns the dispatch: each attempt goes on
 * the chosen endpoint's undici Pool (upstream.ts), with the handler its job gives for it; an
 * answer is reported to health before the job relays its outcome. The job is an Exchange, or an
 * UpgradeExchange for an upgrade request.
 */
import type { Dispatcher } from 'undici';
import type { Failure, Outcome, Readiness, Routed, Transport } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { Tracer } from '../trace/tracer.js';
import type { HealthMonitor } from './health.js';
import { HttpErrorCode } from './http-errors.js';
import type { Upstreams } from './upstream.js';

/** An HTTP job: a proxied request (Exchange) or an upgrade request (UpgradeExchange). */
export interface HttpJob extends Routed<HttpErrorCode> {
  readonly policy: number;
  /** What each attempt sends (the hooks may have changed it before the first). */
  readonly dispatchOptions: Dispatcher.DispatchOptions;
  /** A new attempt on `endpoint`, chosen (and held) by the attempt policy: the handler of its response. */
  attempt(endpoint: Endpoint): Dispatcher.DispatchHandler;
  delivered(endpoint: Endpoint): void;
  settle(outcome: Outcome<HttpErrorCode>): void;
}

/** The HTTP transport of the attempt policy: every backend takes a request (its pool queues). */
export class HttpTransport<J extends HttpJob> implements Transport<J, HttpErrorCode> {
  readonly protocol = 'http' as const;

  constructor(
    private readonly stats: Counters,
    private readonly trace: Tracer,
    private readonly upstreams: Upstreams,
    private readonly health: HealthMonitor,
  ) {}

  readiness(): Readiness {
    return 'ready';
  }

  send(job: J, endpoint: Endpoint): void {
    const handler = job.attempt(endpoint);
    this.upstreams.get(endpoint).dispatch(job.dispatchOptions, handler);
  }

  delivered(job: J, endpoint: Endpoint): void {
    this.health.answered(endpoint);
    job.delivered(endpoint);
  }

  settle(job: J, outcome: Outcome<HttpErrorCode>): void {
    job.settle(outcome);
  }

  rerouted(job: J, failure: Failure<HttpErrorCode>, endpoint: Endpoint | undefined): void {
    this.stats.countReroute(job.policy);
    if (this.trace.on && endpoint !== undefined) this.trace.rerouted(job, endpoint, failure.code);
  }
}

/** Why no backend took a job of `policy` (outcome 'no-server' or 'overloaded'): the same answer for a request and an upgrade. */
export function noServer(outcome: Extract<Outcome<HttpErrorCode>, { kind: 'no-server' | 'overloaded' }>, policy: number): Failure<HttpErrorCode> & { afterFailure: boolean } {
  if (outcome.kind === 'no-server' && outcome.after !== undefined) {
    return { code: outcome.after.code, message: `${outcome.after.message}; no other live server for policy ${policy}`, retry: false, afterFailure: true };
  }
  if (outcome.kind === 'no-server' && outcome.missing === 'unknown-policy') {
    return { code: HttpErrorCode.UNKNOWN_POLICY, message: `no HTTP server for policy ${policy}`, retry: false, afterFailure: false };
  }
  return { code: HttpErrorCode.NO_SERVER, message: `no live HTTP server for policy ${policy}`, retry: false, afterFailure: false };
}
