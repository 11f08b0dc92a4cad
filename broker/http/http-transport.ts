/**
 * The HTTP transport of the attempt policy (routing/attempts.ts): what the policy's pick, send,
 * re-route and settle mean for a proxied request. The request itself is an Exchange.
 */
import type { Failure, Outcome, Readiness, Transport } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { Tracer } from '../trace/tracer.js';
import type { Exchange } from './exchange.js';
import type { HttpErrorCode } from './http-errors.js';

/** The HTTP transport of the attempt policy: every backend takes a request (its pool queues). */
export class HttpTransport implements Transport<Exchange, HttpErrorCode> {
  readonly protocol = 'http' as const;

  constructor(
    private readonly stats: Counters,
    private readonly trace: Tracer,
  ) {}

  readiness(): Readiness {
    return 'ready';
  }

  send(exchange: Exchange, endpoint: Endpoint): void {
    exchange.dispatch(endpoint);
  }

  delivered(exchange: Exchange, endpoint: Endpoint): void {
    exchange.delivered(endpoint);
  }

  settle(exchange: Exchange, outcome: Outcome<HttpErrorCode>): void {
    exchange.settle(outcome);
  }

  rerouted(exchange: Exchange, failure: Failure<HttpErrorCode>, endpoint: Endpoint | undefined): void {
    this.stats.countReroute(exchange.policy);
    if (this.trace.on && endpoint !== undefined) this.trace.rerouted(exchange, endpoint, failure.code);
  }
}
