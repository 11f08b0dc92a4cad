/**
 * One proxied request: pick a backend of the request's policy, send the request on that
 * backend's connection pool (undici's dispatch, the body streamed from the client), and
 * stream the response back with backpressure both ways. A backend that refuses, resets or
 * times out is reported to health and the request goes to another backend when that is safe:
 * the connection was never made, or the method is idempotent and no body byte was read.
 * Once the response head has gone to the client nothing can be retried; a backend failing
 * after that closes the client's connection, so the client sees a cut, not a wrong answer.
 *
 * The exchange is its own undici handler (undici 7's interface: onRequestStart,
 * onResponseStart, onResponseData, onResponseEnd, onResponseError); its state lives in fields,
 * one object per request. The response head is relayed from the controller's raw headers,
 * as the backend sent them, not from the parsed object undici also passes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { headersForBody, headersWithoutBody, responseHasNoBody } from '../hooks/body.js';
import type { HttpAnswer } from '../hooks/contexts.js';
import type { HttpHookRun, RequestResult } from '../hooks/http-request.js';
import { ResponseTap, type ResponseSink } from '../hooks/http-response.js';
import type { HttpBackend, HttpBackendTable } from './backends.js';
import { forwardResponseHeaders, type ForwardedHead } from './headers.js';
import type { HealthMonitor } from './health.js';
import { HttpErrorCode, sendError } from './http-errors.js';
import type { Counters } from '../routing/counters.js';

/** What an exchange needs from the front end. */
export interface ExchangeHost {
  readonly table: HttpBackendTable;
  readonly health: HealthMonitor;
  readonly stats: Counters;
  readonly maxAttempts: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  /** Called once when the exchange is over, however it ended. */
  exchangeDone(exchange: Exchange): void;
}

/** Why an attempt failed, and what may follow. */
interface Failure {
  code: HttpErrorCode;
  message: string;
  /** The backend refused, reset or timed out: take it out. */
  passive: boolean;
  /** The request never left the broker, so any method may go to another backend. */
  unsent: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The reason given to undici when the client has gone. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}
/** The reason given to undici when a response head cannot be relayed. */
class UnrelayableResponse extends Error {}

export class Exchange implements Dispatcher.DispatchHandler, ResponseSink {
  /** The client connection's list this exchange is on, for the host. */
  connectionExchanges: Exchange[] | undefined;
  /** The interceptors that captured this request (docs/hooks.md), set before start(). */
  hooks: HttpHookRun | undefined;
  /** Holds the response while onResponse hooks run. */
  private tap: ResponseTap | undefined;
  /** The request body when an interceptor buffered it: sent whole, so it can be sent again. */
  private bufferedBody = false;
  private dispatchOptions: Dispatcher.DispatchOptions;
  private backend: HttpBackend | undefined;
  /** The current attempt's controller (abort, pause, resume); undefined until undici starts it. */
  private controller: Dispatcher.DispatchController | undefined;
  /** True from dispatch until the attempt's last callback: the backend's outstanding count holds it. */
  private holding = false;
  private attempts = 0;
  private headSent = false;
  private finished = false;
  private drainHooked = false;
  /** performance.now() when the request arrived, and the status relayed, for the metrics. */
  private readonly startedAt = performance.now();
  private status = 0;

  constructor(
    private readonly host: ExchangeHost,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private policy: number,
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
    if (this.hooks === undefined) this.attempt(undefined);
    else this.hooks.run(this.req, this.head.hasBody, (result) => this.hooked(result));
  }

  /** The client's connection closed: stop the upstream side and forget the request. */
  clientGone(): void {
    if (this.finished) return;
    this.host.stats.dropped++;
    this.finish();
    this.controller?.abort(new ClientGone());
  }

  // undici's handler interface

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The client left while the request waited for a connection.
    if (this.finished) controller.abort(new ClientGone());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.finished) return;
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

  // ResponseSink: how the tap sends a response it held

  get live(): boolean {
    return !this.finished;
  }

  relayHead(status: number, statusMessage: string | undefined, headers: string[], controller: Dispatcher.DispatchController | undefined): boolean {
    if (this.finished) return false;
    try {
      this.res.writeHead(status, statusMessage, headers);
    } catch (err) {
      const message = `its response head cannot be relayed: ${(err as Error).message}`;
      if (controller !== undefined) controller.abort(new UnrelayableResponse(message));
      else this.fail(HttpErrorCode.BAD_GATEWAY, message);
      return false;
    }
    this.headSent = true;
    this.status = status;
    return true;
  }

  relayData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished || this.res.write(chunk)) return;
    controller.pause();
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.controller?.resume());
    }
  }

  onResponseEnd(): void {
    this.release();
    if (this.finished) return;
    if (this.tap?.holding === true) this.tap.end();
    else this.complete();
  }

  complete(): void {
    const backend = this.backend;
    if (this.finished) return;
    if (backend !== undefined) {
      this.host.stats.countResponse(this.policy, backend.label, this.status, this.startedAt);
      backend.served++;
      if (backend.state === 'connecting') this.host.table.setState(backend, 'up');
    }
    this.finish();
    this.res.end();
  }

  failResponse(code: 'HOOK_FAILED' | 'BAD_GATEWAY', message: string): void {
    this.fail(HttpErrorCode[code], message);
  }

  /** The request hooks are done: send the request as they left it, or answer as they said. */
  private hooked(result: RequestResult): void {
    if (this.finished) return;
    const run = this.hooks!;
    if (result.kind === 'too-large') return this.fail(HttpErrorCode.PAYLOAD_TOO_LARGE, result.message);
    if (result.kind === 'failed') return this.fail(HttpErrorCode.HOOK_FAILED, result.message);
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
    this.attempt(undefined);
  }

  /** A hook's own answer (ctx.respond): no backend is asked. */
  private answerDirectly(answer: HttpAnswer): void {
    this.finish();
    const { status, headers, body } = answer;
    const noBody = responseHasNoBody(this.req.method!, status);
    if (noBody) headersWithoutBody(headers, status);
    else headersForBody(headers, body.length, false);
    headers.set('x-request-id', this.head.requestId);
    // A body that was not read to its end would be mistaken for the next request: close.
    if (this.head.hasBody && !this.req.readableEnded) headers.set('connection', 'close');
    this.status = status;
    this.res.writeHead(status, headers.raw);
    this.res.end(noBody ? undefined : body);
  }

  /** The attempt failed; `controller` is undefined when it failed before it started. */
  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const backend = this.release();
    if (this.finished) return;
    if (this.headSent) {
      // Part of the response is out: the client must see the cut, not a shorter answer.
      this.host.stats.truncated++;
      if (backend !== undefined && isPassive(err)) this.host.health.passiveFailure(backend, describe(err));
      this.finish();
      this.res.destroy();
      return;
    }
    const failure = classify(err, backend, this.host);
    if (backend !== undefined) {
      if (failure.passive) this.host.health.passiveFailure(backend, failure.message);
      else if (failure.code !== HttpErrorCode.BAD_REQUEST) backend.failures++;
    }
    if (this.attempts < this.host.maxAttempts && this.retryable(failure)) {
      this.host.stats.countReroute(this.policy);
      this.attempt(failure);
      return;
    }
    this.fail(failure.code, failure.message);
  }

  // Attempts

  private attempt(failure: Failure | undefined): void {
    const backend = this.host.table.pick(this.policy);
    if (backend === undefined) {
      if (failure !== undefined) this.fail(failure.code, `${failure.message}; no other live server for policy ${this.policy}`);
      else if (this.host.table.knows(this.policy)) this.fail(HttpErrorCode.NO_SERVER, `no live HTTP server for policy ${this.policy}`);
      else this.fail(HttpErrorCode.UNKNOWN_POLICY, `no HTTP server for policy ${this.policy}`);
      return;
    }
    this.backend = backend;
    this.controller = undefined;
    this.attempts++;
    this.holding = true;
    this.host.table.addOutstanding(backend, 1);
    backend.dispatcher.dispatch(this.dispatchOptions, this);
  }

  /** Another backend may take the request: it never left, or it can be sent again unchanged. */
  private retryable(failure: Failure): boolean {
    // A body read whole (by an interceptor) leaves req ended and destroyed, with the client still there.
    if (failure.code === HttpErrorCode.BAD_REQUEST || (this.req.destroyed && !this.bufferedBody)) return false;
    if (failure.unsent) return true;
    const bodyRead = this.head.hasBody && !this.bufferedBody && (this.req.readableDidRead || this.req.readableEnded);
    return failure.passive && IDEMPOTENT.has(this.dispatchOptions.method) && !bodyRead;
  }

  /** Ends the attempt's hold on its backend; returns the backend. */
  private release(): HttpBackend | undefined {
    const backend = this.backend;
    if (this.holding && backend !== undefined) {
      this.holding = false;
      this.host.table.addOutstanding(backend, -1);
    }
    return backend;
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

  private fail(code: HttpErrorCode, message: string): void {
    this.host.stats.countError(code, this.policy, message);
    this.finish();
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // A body that was not read to its end would be mistaken for the next request: close.
    const close = this.head.hasBody && !this.req.readableEnded;
    sendError(this.res, code, message, this.head.requestId, close);
  }

  private finish(): void {
    this.finished = true;
    this.host.exchangeDone(this);
  }
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const RESETS = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function codeOf(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function isPassive(err: Error): boolean {
  const code = codeOf(err) ?? '';
  return CONNECT_FAILURES.has(code) || RESETS.has(code) || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

function describe(err: Error): string {
  const code = codeOf(err);
  return code === undefined || err.message.includes(code) ? err.message : `${code}: ${err.message}`;
}

function classify(err: Error, backend: HttpBackend | undefined, host: ExchangeHost): Failure {
  const code = codeOf(err) ?? '';
  const who = backend === undefined ? 'the server' : `server ${backend.id ?? backend.address}${backend.id === undefined ? '' : ` (${backend.address})`}`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not accept a connection within ${host.upstreamConnectTimeoutMs} ms`, passive: true, unsent: true };
  }
  if (CONNECT_FAILURES.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} refused the connection (${code})`, passive: true, unsent: true };
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} left before the request was sent`, passive: false, unsent: true };
  }
  if (RESETS.has(code)) {
    return { code: HttpErrorCode.BAD_GATEWAY, message: `${who} closed the connection without an answer (${describe(err)})`, passive: true, unsent: false };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { code: HttpErrorCode.GATEWAY_TIMEOUT, message: `${who} did not answer within ${host.upstreamTimeoutMs} ms`, passive: true, unsent: false };
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return { code: HttpErrorCode.BAD_REQUEST, message: `the request cannot be forwarded: ${err.message}`, passive: false, unsent: false };
  }
  const what = err instanceof UnrelayableResponse ? err.message : `its response was invalid (${describe(err)})`;
  return { code: HttpErrorCode.BAD_GATEWAY, message: `${who}: ${what}`, passive: false, unsent: false };
}
