/**
 * One proxied request, the HTTP path's job for the attempt policy (routing/attempts.ts, which
 * picks a backend of the request's policy and decides what follows a failure): its request
 * hooks, its attempts and its one outcome. Each attempt is sent by the transport
 * (http-transport.ts) on the chosen backend's pool, the body streamed from the client; the
 * response comes back through the request's ResponseRelay (response-relay.ts: backpressure
 * both ways), behind the response hooks when it has some (hooked-relay.ts). A backend that
 * refuses, resets or times out is reported to health (which counts failures in a row; a reused
 * keep-alive connection the backend closed before answering is not one), and the request may
 * go to another backend when that is safe: the connection was never made, or the method is
 * idempotent and no body byte was read. Once the response head has gone to the client nothing
 * can be retried; a backend failing after that closes the client's connection, so the client
 * sees a cut, not a wrong answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { responseHasNoBody } from '../hooks/body.js';
import { frameResponse } from '../hooks/framing.js';
import { firstInvalidHeader } from '../hooks/header-list.js';
import type { HttpAnswer } from '../hooks/contexts.js';
import type { HttpHookRun, RequestResult } from '../hooks/http-request.js';
import type { AttemptPolicy, Failure, Outcome } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { ForwardedHead } from './headers.js';
import type { HealthMonitor } from './health.js';
import { describeError } from '../support/describe-error.js';
import { HTTP_ERROR_STATUS, HttpErrorCode, sendError } from './http-errors.js';
import { noServer, type HttpJob } from './http-transport.js';
import type { Tracer } from '../trace/tracer.js';
import { HookedRelay } from './hooked-relay.js';
import { ResponseRelay, type RelayTarget } from './response-relay.js';
import { classify, HookAbort, isPassive, type UpstreamFailure, type UpstreamTimeouts } from './upstream-failure.js';
import type { Upstreams } from './upstream.js';

export { ClientGone } from './upstream-failure.js';

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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export class Exchange implements HttpJob, RelayTarget {
  attempts = 0;
  lastFailure: Failure<HttpErrorCode> | undefined = undefined;
  done = false;
  /** The interceptors that captured this request (docs/hooks.md), set before start(). */
  hooks: HttpHookRun | undefined;
  dispatchOptions: Dispatcher.DispatchOptions;
  /** True while the request hooks run: the attempt policy has not seen the request yet. */
  private hooking = false;
  /** The request body when an interceptor buffered it: sent whole, so it can be sent again. */
  private bufferedBody = false;
  /** Relays each attempt's response to the client. */
  private readonly relay: ResponseRelay;
  /** undici's handler of each attempt: the relay, behind the response hooks when some want the response. */
  private handler: Dispatcher.DispatchHandler;
  /** performance.now() when the request arrived, for the metrics. */
  private readonly startedAt = performance.now();

  constructor(
    private readonly services: ExchangeServices,
    private readonly owner: ExchangeOwner,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    public policy: number,
    private readonly head: ForwardedHead,
    path: string,
  ) {
    this.dispatchOptions = {
      path,
      method: req.method as Dispatcher.HttpMethod,
      headers: head.headers,
      body: head.hasBody ? req : null,
    };
    this.relay = new ResponseRelay(this, res, head.requestId);
    this.handler = this.relay;
  }

  get live(): boolean {
    return !this.done;
  }

  /** Sends the request to a first backend (after the request hooks, when it has some). */
  start(): void {
    if (this.hooks === undefined) return this.services.attempts.start(this);
    this.hooking = true;
    this.hooks.run(this.req, this.head.hasBody, (result) => this.hooked(result));
  }

  /** The client's connection closed: stop the upstream side and forget the request. */
  clientGone(): void {
    if (this.done) return;
    this.services.stats.dropped++;
    if (this.hooking) {
      this.done = true;
      this.owner.done(this);
      return;
    }
    this.services.attempts.abandon(this);
    this.relay.abort();
  }

  /** HttpJob: the transport sends an attempt to `endpoint` with this handler. */
  attempt(endpoint: Endpoint): Dispatcher.DispatchHandler {
    this.attempts++;
    this.relay.begin(endpoint);
    return this.handler;
  }

  /** The request's one outcome: the backend's response, relayed whole... */
  delivered(endpoint: Endpoint): void {
    this.services.stats.countResponse(this.policy, endpoint.member.label, this.relay.status, this.startedAt);
    if (this.services.trace.on) this.traced(this.relay.status, 'ok');
    this.owner.done(this);
    this.res.end();
  }

  /** ...or why there is none. */
  settle(outcome: Outcome<HttpErrorCode>): void {
    switch (outcome.kind) {
      case 'no-server':
      case 'overloaded': {
        const failure = noServer(outcome, this.policy);
        return this.fail(failure.code, failure.message);
      }
      case 'failed':
        if (!this.relay.headSent) return this.fail(outcome.failure.code, outcome.failure.message);
        // Part of the response is out: the client must see the cut, not a shorter answer.
        this.services.stats.truncated++;
        if (this.services.trace.on) this.traced(this.relay.status, 'TRUNCATED');
        this.owner.done(this);
        this.res.destroy();
        return;
      case 'abandoned':
        if (this.services.trace.on) this.traced(0, 'CLIENT_GONE');
        this.owner.done(this);
        return;
    }
  }

  // RelayTarget: how each attempt ended

  answered(endpoint: Endpoint): void {
    this.services.attempts.answered(this, endpoint);
  }

  /** The attempt failed: what it says of the backend, and whether another may take the request. */
  failed(endpoint: Endpoint, err: Error | Failure<HttpErrorCode>): void {
    const { health, attempts } = this.services;
    if (!(err instanceof Error)) return attempts.failed(this, endpoint, err);
    if (this.done || this.relay.headSent) {
      if (!this.done && isPassive(err)) health.passiveFailure(endpoint, describeError(err));
      attempts.failed(this, endpoint, { code: HttpErrorCode.BAD_GATEWAY, message: describeError(err), retry: false });
      return;
    }
    if (err instanceof HookAbort) return attempts.failed(this, endpoint, { code: err.code, message: err.message, retry: false });
    const failure = classify(err, endpoint, this.services.timeouts);
    health.attemptFailed(endpoint, failure);
    attempts.failed(this, endpoint, { code: failure.code, message: failure.message, retry: this.retryable(failure) });
  }

  /** The request hooks are done: send the request as they left it, or answer as they said. */
  private hooked(result: RequestResult): void {
    this.hooking = false;
    if (this.done) return;
    const run = this.hooks!;
    if (result.kind === 'too-large') return this.refuse(HttpErrorCode.PAYLOAD_TOO_LARGE, result.message);
    if (result.kind === 'failed') return this.refuse(HttpErrorCode.HOOK_FAILED, result.message);
    if (result.kind === 'answer') return this.answerDirectly(result.answer);
    const r = run.request;
    this.policy = r.policy;
    this.bufferedBody = r.body !== undefined;
    this.dispatchOptions = {
      path: run.target(),
      method: r.method as Dispatcher.HttpMethod,
      headers: r.headers.raw,
      body: r.body ?? (this.head.hasBody ? this.req : null),
    };
    if (run.wantsResponse) this.handler = new HookedRelay(run, this.relay, this.head.requestId);
    this.services.attempts.start(this);
  }

  /** Answers a request the attempt policy never saw with an error. */
  private refuse(code: HttpErrorCode, message: string): void {
    this.done = true;
    this.fail(code, message);
  }

  /** A hook's own answer (ctx.respond): no backend is asked. */
  private answerDirectly(answer: HttpAnswer): void {
    const { status, headers, body } = answer;
    const invalid = firstInvalidHeader(headers.raw);
    if (invalid !== undefined) return this.refuse(HttpErrorCode.HOOK_FAILED, `an onRequest hook answered with header ${invalid} that may not be sent`);
    this.done = true;
    this.owner.done(this);
    const noBody = responseHasNoBody(this.req.method!, status);
    frameResponse(headers, noBody ? { kind: 'none', status } : { kind: 'whole', length: body.length, changed: false }, undefined);
    headers.set('x-request-id', this.head.requestId);
    // A body that was not read to its end would be mistaken for the next request: close.
    if (this.head.hasBody && !this.req.readableEnded) headers.set('connection', 'close');
    this.relay.status = status;
    if (this.services.trace.on) this.traced(status, 'HOOK_ANSWERED');
    this.res.writeHead(status, headers.raw);
    this.res.end(noBody ? undefined : body);
  }

  /** Another backend may take the request: it never left, or it can be sent again unchanged. */
  private retryable(failure: UpstreamFailure): boolean {
    // A body read whole (by an interceptor) leaves req ended and destroyed, with the client still there.
    if (failure.code === HttpErrorCode.BAD_REQUEST || (this.req.destroyed && !this.bufferedBody)) return false;
    if (failure.unsent) return true;
    const bodyRead = this.head.hasBody && !this.bufferedBody && (this.req.readableDidRead || this.req.readableEnded);
    return failure.passive && IDEMPOTENT.has(this.dispatchOptions.method) && !bodyRead;
  }

  /** Tells the trace how the request ended (only called while it is on). */
  private traced(status: number, outcome: string): void {
    const r = { requestId: this.head.requestId, method: this.req.method ?? '', path: this.dispatchOptions.path, policy: this.policy, server: this.relay.endpoint, attempts: this.attempts, status, outcome, startedAt: this.startedAt, traceparent: this.head.traceparent };
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
