/**
 * One proxied request, the HTTP path's job for the attempt policy (routing/attempts.ts, which
 * picks a backend of the request's policy and decides what follows a failure): send the
 * request on the chosen backend's pool (undici's dispatch, the body streamed from the client)
 * and stream the response back with backpressure both ways. A backend that refuses, resets or
 * times out is reported to health (which counts failures in a row; a reused keep-alive
 * connection the backend closed before answering is not one), and the request may go to
 * another backend when that is safe: the connection was never made, or the method is
 * idempotent and no body byte was read.
 * Once the response head has gone to the client nothing can be retried; a backend failing
 * after that closes the client's connection, so the client sees a cut, not a wrong answer.
 *
 * The exchange is its own undici handler (undici 7's interface: onRequestStart,
 * onResponseStart, onResponseData, onResponseEnd, onResponseError); its state lives in fields,
 * one object per request. The response head is relayed from the controller's raw headers,
 * as the backend sent them, not from the parsed object undici also passes.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { AttemptPolicy, Failure, Outcome, Readiness, Routed, Transport } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import { forwardResponseHeaders, type ForwardedHead } from './headers.js';
import type { HealthMonitor } from './health.js';
import { describeError } from '../support/describe-error.js';
import { HTTP_ERROR_STATUS, HttpErrorCode, sendError } from './http-errors.js';
import type { Tracer } from '../trace/tracer.js';
import { classify, isPassive, UnrelayableResponse, type UpstreamFailure, type UpstreamTimeouts } from './upstream-failure.js';
import type { Upstreams } from './upstream.js';

/** The front end's services an exchange uses, given once to each. */
export interface ExchangeServices {
  readonly attempts: AttemptPolicy<Exchange, HttpErrorCode>;
  readonly table: PolicyTable;
  readonly upstreams: Upstreams;
  readonly health: HealthMonitor;
  readonly stats: Counters;
  readonly timeouts: UpstreamTimeouts;
  /** The routing trace; its `on` is read per request. */
  readonly trace: Tracer;
}

/** Where an exchange says it is over: its client connection's pipeline. */
export interface ExchangeOwner {
  done(exchange: Exchange): void;
}

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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The reason given to undici when the client has gone. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

export class Exchange implements Dispatcher.DispatchHandler, Routed<HttpErrorCode> {
  attempts = 0;
  lastFailure: Failure<HttpErrorCode> | undefined = undefined;
  done = false;
  private readonly dispatchOptions: Dispatcher.DispatchOptions;
  /** The backend of the current attempt. */
  private endpoint: Endpoint | undefined;
  /** The current attempt's controller (abort, pause, resume); undefined until undici starts it. */
  private controller: Dispatcher.DispatchController | undefined;
  private headSent = false;
  private drainHooked = false;
  /** performance.now() when the request arrived, and the status relayed, for the metrics. */
  private readonly startedAt = performance.now();
  private status = 0;

  constructor(
    private readonly services: ExchangeServices,
    private readonly owner: ExchangeOwner,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly policy: number,
    private readonly head: ForwardedHead,
    path: string,
  ) {
    this.dispatchOptions = {
      path,
      method: req.method as Dispatcher.HttpMethod,
      headers: head.headers,
      body: head.hasBody ? req : null,
    };
  }

  /** Sends the request to a first backend. */
  start(): void {
    this.services.attempts.start(this);
  }

  /** The client's connection closed: stop the upstream side and forget the request. */
  clientGone(): void {
    if (this.done) return;
    this.services.stats.dropped++;
    this.services.attempts.abandon(this);
    this.controller?.abort(new ClientGone());
  }

  /** The attempt policy chose `endpoint` (and holds it) for this request: send it there. */
  dispatch(endpoint: Endpoint): void {
    this.endpoint = endpoint;
    this.controller = undefined;
    this.attempts++;
    this.services.upstreams.get(endpoint).dispatch(this.dispatchOptions, this);
  }

  /** The request's one outcome: the backend's response, relayed whole... */
  delivered(endpoint: Endpoint): void {
    this.services.stats.countResponse(this.policy, endpoint.member.label, this.status, this.startedAt);
    if (endpoint.state === 'connecting') this.services.table.setState(endpoint, 'up');
    this.services.health.answered(endpoint);
    if (this.services.trace.on) this.traced(this.status, 'ok');
    this.owner.done(this);
    this.res.end();
  }

  /** ...or why there is none. */
  settle(outcome: Outcome<HttpErrorCode>): void {
    const policy = this.policy;
    switch (outcome.kind) {
      case 'no-server':
        if (outcome.after !== undefined) return this.fail(outcome.after.code, `${outcome.after.message}; no other live server for policy ${policy}`);
        if (outcome.missing === 'unknown-policy') return this.fail(HttpErrorCode.UNKNOWN_POLICY, `no HTTP server for policy ${policy}`);
        return this.fail(HttpErrorCode.NO_SERVER, `no live HTTP server for policy ${policy}`);
      case 'overloaded':
        return this.fail(HttpErrorCode.NO_SERVER, `no live HTTP server for policy ${policy}`);
      case 'failed':
        if (!this.headSent) return this.fail(outcome.failure.code, outcome.failure.message);
        // Part of the response is out: the client must see the cut, not a shorter answer.
        this.services.stats.truncated++;
        if (this.services.trace.on) this.traced(this.status, 'TRUNCATED');
        this.owner.done(this);
        this.res.destroy();
        return;
      case 'abandoned':
        if (this.services.trace.on) this.traced(0, 'CLIENT_GONE');
        this.owner.done(this);
        return;
    }
  }

  // undici's handler interface

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The client left while the request waited for a connection.
    if (this.done) controller.abort(new ClientGone());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.done) return;
    const raw = controller.rawHeaders as Buffer[];
    if (statusCode < 200) {
      this.informational(statusCode, raw);
      return;
    }
    try {
      this.res.writeHead(statusCode, statusMessage === '' ? undefined : statusMessage, forwardResponseHeaders(raw, this.head.requestId));
    } catch (err) {
      controller.abort(new UnrelayableResponse(`its response head cannot be relayed: ${(err as Error).message}`));
      return;
    }
    this.headSent = true;
    this.status = statusCode;
  }

  /** Pauses the backend's response until the client's socket drains. */
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done || this.res.write(chunk)) return;
    controller.pause();
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.controller?.resume());
    }
  }

  onResponseEnd(): void {
    this.services.attempts.answered(this, this.endpoint!);
  }

  /** The attempt failed; `controller` is undefined when it failed before it started. */
  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const endpoint = this.endpoint!;
    const { health, attempts } = this.services;
    if (this.done || this.headSent) {
      if (!this.done && isPassive(err)) health.passiveFailure(endpoint, describeError(err));
      attempts.failed(this, endpoint, { code: HttpErrorCode.BAD_GATEWAY, message: describeError(err), retry: false });
      return;
    }
    const failure = classify(err, endpoint, this.services.timeouts);
    if (failure.verdict === 'failure' || failure.verdict === 'overload') health.passiveFailure(endpoint, failure.message, failure.verdict);
    else if (failure.verdict === 'none' && failure.code !== HttpErrorCode.BAD_REQUEST) endpoint.failures++;
    attempts.failed(this, endpoint, { code: failure.code, message: failure.message, retry: this.retryable(failure) });
  }

  /** Another backend may take the request: it never left, or it can be sent again unchanged. */
  private retryable(failure: UpstreamFailure): boolean {
    if (failure.code === HttpErrorCode.BAD_REQUEST || this.req.destroyed) return false;
    if (failure.unsent) return true;
    const bodyRead = this.head.hasBody && (this.req.readableDidRead || this.req.readableEnded);
    return failure.passive && IDEMPOTENT.has(this.req.method!) && !bodyRead;
  }

  private informational(statusCode: number, raw: readonly Buffer[]): void {
    // Behind a pipelined response still being sent, Node would queue the interim response
    // after the final head: drop it then (interim responses may be dropped).
    if (this.res.socket === null) return;
    if (statusCode === 102) {
      this.res.writeProcessing();
    } else if (statusCode === 103) {
      const hints: Record<string, string | string[]> = {};
      const headers = forwardResponseHeaders(raw, this.head.requestId);
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!.toLowerCase();
        const previous = hints[name];
        hints[name] = previous === undefined ? headers[i + 1]! : [previous, headers[i + 1]!].flat();
      }
      // Node sends early hints only with a Link header; others are dropped, as 100 and 101 are.
      if (hints.link !== undefined) {
        try {
          this.res.writeEarlyHints(hints);
        } catch {
          // A link Node will not send: the final response still follows.
        }
      }
    }
  }

  /** Tells the trace how the request ended (only called while it is on). */
  private traced(status: number, outcome: string): void {
    const r = { requestId: this.head.requestId, method: this.req.method ?? '', path: this.dispatchOptions.path, policy: this.policy, server: this.endpoint, attempts: this.attempts, status, outcome, startedAt: this.startedAt };
    this.services.trace.http(this, r);
  }

  private fail(code: HttpErrorCode, message: string): void {
    this.services.stats.countError(code, this.policy, message);
    if (this.services.trace.on) this.traced(HTTP_ERROR_STATUS[code], code);
    this.owner.done(this);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // A body that was not read to its end would be mistaken for the next request: close.
    const close = this.head.hasBody && !this.req.readableEnded;
    sendError(this.res, code, message, this.head.requestId, close);
  }
}
