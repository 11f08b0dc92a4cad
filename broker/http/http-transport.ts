/**
 * The HTTP transport of the attempt policy (routing/attempts.ts): what the policy's pick, send,
 * re-route and settle mean for a proxied request. The request itself is an Exchange, or an
 * UpgradeExchange for an upgrade request.
 */
import type { Failure, Outcome, Readiness, Transport } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { Tracer } from '../trace/tracer.js';
import type { HttpErrorCode } from './http-errors.js';

/** An HTTP job: a proxied request (Exchange) or an upgrade request (UpgradeExchange). */
export interface HttpJob {
  readonly policy: number;
  /** Sends it to the endpoint the attempt policy chose (and holds) for it. */
  dispatch(endpoint: Endpoint): void;
  delivered(endpoint: Endpoint): void;
  settle(outcome: Outcome<HttpErrorCode>): void;
}

/** The HTTP transport of the attempt policy: every backend takes a request (its pool queues). */
export class HttpTransport<J extends HttpJob> implements Transport<J, HttpErrorCode> {
  readonly protocol = 'http' as const;

  constructor(
    private readonly stats: Counters,
    private readonly trace: Tracer,
  ) {}

  readiness(): Readiness {
    return 'ready';
  }

  send(exchange: J, endpoint: Endpoint): void {
    exchange.dispatch(endpoint);
  }

  delivered(exchange: J, endpoint: Endpoint): void {
    exchange.delivered(endpoint);
  }

  settle(exchange: J, outcome: Outcome<HttpErrorCode>): void {
    exchange.settle(outcome);
  }

  rerouted(exchange: J, failure: Failure<HttpErrorCode>, endpoint: Endpoint | undefined): void {
    this.stats.countReroute(exchange.policy);
    if (this.trace.on && endpoint !== undefined) this.trace.rerouted(exchange, endpoint, failure.code);
  }
}
