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
import { responseHasNoBody } from '../hooks/body.js';
import { frameResponse } from '../hooks/framing.js';
import { firstInvalidHeader } from '../hooks/header-list.js';
import type { HttpAnswer } from '../hooks/contexts.js';
import type { HttpHookRun, RequestResult } from '../hooks/http-request.js';
import { ResponseTap, type ResponseSink } from '../hooks/http-response.js';
import type { AttemptPolicy, Failure, Outcome, Routed } from '../routing/attempts.js';
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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The reason given to undici when an interceptor ends a response still arriving (502). */
class HookAbort extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The reason given to undici when the client has gone (an exchange's or an upgrade's). */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

export class Exchange implements Dispatcher.DispatchHandler, Routed<HttpErrorCode>, ResponseSink {
  attempts = 0;
  lastFailure: Failure<HttpErrorCode> | undefined = undefined;
  done = false;
  /** The interceptors that captured this request (docs/hooks.md), set before start(). */
  hooks: HttpHookRun | undefined;
  /** True while the request hooks run: the attempt policy has not seen the request yet. */
  private hooking = false;
  /** Holds the response while onResponse hooks run. */
  private tap: ResponseTap | undefined;
  /** The request body when an interceptor buffered it: sent whole, so it can be sent again. */
  private bufferedBody = false;
  private dispatchOptions: Dispatcher.DispatchOptions;
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
    if (this.tap !== undefined) {
      this.tap.start(controller, statusCode, statusMessage === '' ? undefined : statusMessage, forwardResponseHeaders(raw, this.head.requestId));
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
    if (this.tap?.holding === true) return this.tap.data(chunk);
    this.relayData(controller, chunk);
  }

  onResponseEnd(): void {
    // Held by the hooks: the request is answered (and its backend released) once they are done.
    if (this.tap?.holding === true && !this.done) return this.tap.end();
    this.services.attempts.answered(this, this.endpoint!);
  }

  // ResponseSink: how the tap sends a response it held

  get live(): boolean {
    return !this.done;
  }

  relayHead(status: number, statusMessage: string | undefined, headers: string[], controller: Dispatcher.DispatchController | undefined): boolean {
    if (this.done) return false;
    try {
      this.res.writeHead(status, statusMessage, headers);
    } catch (err) {
      const message = `its response head cannot be relayed: ${(err as Error).message}`;
      if (controller !== undefined) controller.abort(new UnrelayableResponse(message));
      else this.services.attempts.failed(this, this.endpoint, { code: HttpErrorCode.BAD_GATEWAY, message, retry: false });
      return false;
    }
    this.headSent = true;
    this.status = status;
    return true;
  }

  relayData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done || this.res.write(chunk)) return;
    controller.pause();
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.controller?.resume());
    }
  }

  complete(): void {
    this.services.attempts.answered(this, this.endpoint!);
  }

  failResponse(code: 'HOOK_FAILED' | 'BAD_GATEWAY', message: string, controller: Dispatcher.DispatchController | undefined): void {
    // Still arriving: the abort ends the attempt (onResponseError), which answers the 502.
    if (controller !== undefined) controller.abort(new HookAbort(HttpErrorCode[code], message));
    else this.services.attempts.failed(this, this.endpoint, { code: HttpErrorCode[code], message, retry: false });
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
    if (run.wantsResponse) this.tap = new ResponseTap(run, this);
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
    this.status = status;
    if (this.services.trace.on) this.traced(status, 'HOOK_ANSWERED');
    this.res.writeHead(status, headers.raw);
    this.res.end(noBody ? undefined : body);
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
    if (err instanceof HookAbort) return attempts.failed(this, endpoint, { code: err.code, message: err.message, retry: false });
    const failure = classify(err, endpoint, this.services.timeouts);
    health.attemptFailed(endpoint, failure);
    attempts.failed(this, endpoint, { code: failure.code, message: failure.message, retry: this.retryable(failure) });
  }

  /** Another backend may take the request: it never left, or it can be sent again unchanged. */
  private retryable(failure: UpstreamFailure): boolean {
    // A body read whole (by an interceptor) leaves req ended and destroyed, with the client still there.
    if (failure.code === HttpErrorCode.BAD_REQUEST || (this.req.destroyed && !this.bufferedBody)) return false;
    if (failure.unsent) return true;
    const bodyRead = this.head.hasBody && !this.bufferedBody && (this.req.readableDidRead || this.req.readableEnded);
    return failure.passive && IDEMPOTENT.has(this.dispatchOptions.method) && !bodyRead;
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
    const r = { requestId: this.head.requestId, method: this.req.method ?? '', path: this.dispatchOptions.path, policy: this.policy, server: this.endpoint, attempts: this.attempts, status, outcome, startedAt: this.startedAt, traceparent: this.head.traceparent };
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
