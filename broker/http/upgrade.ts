/**
 * One upgrade request (a WebSocket handshake, RFC 6455 §4) from the handshake to its tunnel:
 * the HTTP path's job for the attempt policy, as an Exchange is for a request. The backend is
 * picked once, by the policy's strategy, and the request sent on its undici Pool with undici's
 * own upgrade support (dispatch with `upgrade`). A backend that fails before answering is
 * retried like a GET; its 101 goes back to the client with its headers and the two sockets
 * become a Tunnel (tunnel.ts), which holds the backend (outstanding, for least-outstanding)
 * until it closes; any other answer is relayed as a normal response and the connection closed.
 *
 * Until the 101 the client's socket is not read: bytes it sends early wait in its buffer, and
 * a client that pipelines an HTTP request behind its handshake never has it read by a backend
 * of another policy. Everything is written as raw bytes: Node's HTTP server has handed the
 * socket over.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { headersForBody } from '../hooks/body.js';
import type { HttpHookRun, RequestResult } from '../hooks/http-request.js';
import type { AttemptPolicy, Failure, Outcome, Routed } from '../routing/attempts.js';
import type { Counters } from '../routing/counters.js';
import type { Endpoint } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import { describeError } from '../support/describe-error.js';
import type { Tracer } from '../trace/tracer.js';
import { forwardResponseHeaders, type ForwardedHead } from './headers.js';
import type { HealthMonitor } from './health.js';
import { HTTP_ERROR_STATUS, HttpErrorCode } from './http-errors.js';
import { noServer, type HttpJob } from './http-transport.js';
import { rawError, rawHead } from './raw-response.js';
import { Tunnel } from './tunnel.js';
import { classify, ClientGone, type UpstreamTimeouts } from './upstream-failure.js';
import type { UpgradeCounters } from './upgrade-counters.js';
import type { Upstreams } from './upstream.js';
import type { Admission } from '../routing/admission.js';

/** The front end's services an upgrade uses. */
export interface UpgradeServices {
  readonly attempts: AttemptPolicy<UpgradeExchange, HttpErrorCode>;
  readonly table: PolicyTable;
  readonly upstreams: Upstreams;
  readonly health: HealthMonitor;
  readonly stats: Counters;
  readonly upgrades: UpgradeCounters;
  readonly timeouts: UpstreamTimeouts;
  readonly trace: Tracer;
  /** --http-upgrade-idle-timeout. */
  readonly idleMs: number;
  /** The open tunnels, closed by the drain. */
  readonly tunnels: Set<Tunnel>;
  /** The front end's admission: holds each open tunnel, so that the drain waits for it. */
  readonly admission: Admission;
}

/** How long a socket answered with an error may linger for its answer to be read. */
const ERROR_CLOSE_GRACE_MS = 1000;

export class UpgradeExchange implements Dispatcher.DispatchHandler, Routed<HttpErrorCode>, HttpJob {
  attempts = 0;
  lastFailure: Failure<HttpErrorCode> | undefined = undefined;
  done = false;
  /** The interceptors that captured this request (match.upgrades), set before start(). */
  hooks: HttpHookRun | undefined;
  private hooking = false;
  dispatchOptions: Dispatcher.DispatchOptions;
  private endpoint: Endpoint | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  /** The backend's socket once it answered 101. */
  private upgraded: Duplex | undefined;
  private headSent = false;
  private status = 0;
  private over = false;
  private readonly startedAt = performance.now();

  constructor(
    private readonly services: UpgradeServices,
    private readonly socket: Duplex,
    /** What the client sent after its request head: the first bytes of the new protocol. */
    private readonly early: Buffer,
    private readonly req: IncomingMessage,
    public policy: number,
    private readonly head: ForwardedHead,
    path: string,
    /** The client's Upgrade token, sent on as it is; undefined: sent as a plain request (upgrades.ts). */
    protocol: string | undefined,
    /** Called once, when the handshake is over (tunnel opened, answered, refused or abandoned). */
    private readonly onOver: () => void,
  ) {
    this.dispatchOptions = { path, method: req.method as Dispatcher.HttpMethod, headers: head.headers, body: null, upgrade: protocol ?? null };
  }

  /** Runs the request hooks, if any, then sends the handshake to a first backend. */
  start(): void {
    this.socket.on('error', () => undefined);
    this.socket.once('close', () => this.clientGone());
    if (this.hooks === undefined) return this.services.attempts.start(this);
    this.hooking = true;
    this.hooks.run(this.req, false, (result) => this.hooked(result));
  }

  /** HttpJob: the attempt policy chose `endpoint` (and holds it); the transport sends the handshake there, this the handler. */
  attempt(endpoint: Endpoint): Dispatcher.DispatchHandler {
    this.endpoint = endpoint;
    this.controller = undefined;
    this.attempts++;
    return this;
  }

  /** The backend answered: 101 opens the tunnel; any other answer has been relayed whole. */
  delivered(endpoint: Endpoint): void {
    const { table, upgrades, stats } = this.services;
    if (this.upgraded === undefined) {
      upgrades.totals.notUpgraded++;
      stats.countResponse(this.policy, endpoint.member.label, this.status, this.startedAt);
      this.traced(this.status, 'NOT_UPGRADED');
      this.finish();
      this.closeAfterAnswer();
      return;
    }
    // The tunnel holds its backend while it is open: least-outstanding sees the WebSockets.
    table.acquire(endpoint);
    const label = endpoint.member.label;
    upgrades.opened(this.policy, label);
    stats.countResponse(this.policy, label, 101, this.startedAt);
    this.traced(101, 'UPGRADED');
    const tunnel = new Tunnel(this.socket, this.upgraded, upgrades.totals, () => {
      this.services.tunnels.delete(tunnel);
      this.services.admission.release();
      table.release(endpoint);
      upgrades.closedOne(this.policy, label);
    });
    this.services.tunnels.add(tunnel);
    this.services.admission.hold();
    this.finish();
    tunnel.start(this.early, Buffer.alloc(0), this.services.idleMs);
  }

  /** No answer from a backend: say why, before anything switched. */
  settle(outcome: Outcome<HttpErrorCode>): void {
    switch (outcome.kind) {
      case 'no-server':
      case 'overloaded': {
        const failure = noServer(outcome, this.policy);
        return this.fail(failure.code, failure.message, failure.afterFailure);
      }
      case 'failed':
        if (!this.headSent) return this.fail(outcome.failure.code, outcome.failure.message, true);
        this.services.stats.truncated++;
        this.traced(this.status, 'TRUNCATED');
        this.finish();
        this.socket.destroy();
        return;
      case 'abandoned':
        this.traced(0, 'CLIENT_GONE');
        this.finish();
        return;
    }
  }

  // undici's handler interface

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new ClientGone());
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, _statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.done) {
      socket.destroy();
      this.services.attempts.answered(this, this.endpoint!);
      return;
    }
    const out = forwardResponseHeaders(controller.rawHeaders as Buffer[], this.head.requestId);
    const upgrade = headers.upgrade;
    out.push('Connection', 'Upgrade', 'Upgrade', typeof upgrade === 'string' ? upgrade : String(this.dispatchOptions.upgrade));
    socket.on('error', () => undefined);
    socket.pause();
    this.upgraded = socket;
    this.status = 101;
    this.headSent = true;
    this.socket.write(rawHead(101, 'Switching Protocols', out));
    this.services.attempts.answered(this, this.endpoint!);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.done || statusCode < 200) return;
    const out = forwardResponseHeaders(controller.rawHeaders as Buffer[], this.head.requestId);
    // Relayed close-delimited when the backend did not say its length: the connection ends with it.
    out.push('Connection', 'close');
    this.socket.write(rawHead(statusCode, statusMessage === '' ? undefined : statusMessage, out));
    this.headSent = true;
    this.status = statusCode;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done || this.socket.write(chunk)) return;
    controller.pause();
    this.socket.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.services.attempts.answered(this, this.endpoint!);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const endpoint = this.endpoint!;
    const { health, attempts } = this.services;
    if (this.done || this.headSent) {
      attempts.failed(this, endpoint, { code: HttpErrorCode.BAD_GATEWAY, message: describeError(err), retry: false });
      return;
    }
    const failure = classify(err, endpoint, this.services.timeouts);
    health.attemptFailed(endpoint, failure);
    // Retried like a GET: it has no body, so it can be sent again unless it was refused as bad.
    const retry = failure.code !== HttpErrorCode.BAD_REQUEST && (failure.unsent || failure.passive);
    attempts.failed(this, endpoint, { code: failure.code, message: failure.message, retry });
  }

  /** The client closed before the handshake was over. */
  private clientGone(): void {
    if (this.done) return;
    this.services.stats.dropped++;
    if (this.hooking) {
      this.done = true;
      this.finish();
      return;
    }
    this.services.attempts.abandon(this);
    this.controller?.abort(new ClientGone());
  }

  private hooked(result: RequestResult): void {
    this.hooking = false;
    if (this.done) return;
    if (result.kind === 'too-large' || result.kind === 'failed') return this.refuse(HttpErrorCode.HOOK_FAILED, result.message);
    if (result.kind === 'answer') return this.answerDirectly(result.answer.status, result.answer.headers, result.answer.body);
    const run = this.hooks!;
    const r = run.request;
    this.policy = r.policy;
    this.dispatchOptions = { ...this.dispatchOptions, path: run.target(), method: r.method as Dispatcher.HttpMethod, headers: r.headers.raw };
    this.services.attempts.start(this);
  }

  /** A hook answered (ctx.respond): nothing switches, the answer goes back and the connection closes. */
  private answerDirectly(status: number, headers: Parameters<typeof headersForBody>[0], body: Buffer): void {
    this.done = true;
    headersForBody(headers, body.length, false);
    headers.set('x-request-id', this.head.requestId);
    headers.set('connection', 'close');
    this.status = status;
    this.services.upgrades.refused('HOOK_ANSWERED');
    this.traced(status, 'HOOK_ANSWERED');
    this.finish();
    this.closeAfterAnswer(Buffer.concat([Buffer.from(rawHead(status, undefined, headers.raw), 'latin1'), body]));
  }

  /** Refused before the attempt policy saw it. */
  private refuse(code: HttpErrorCode, message: string): void {
    this.done = true;
    this.fail(code, message, false);
  }

  /** An error answer before anything switched; `failed`: backends were tried and failed. */
  private fail(code: HttpErrorCode, message: string, failed: boolean): void {
    this.services.stats.countError(code, this.policy, message);
    if (failed) this.services.upgrades.totals.failed++;
    else this.services.upgrades.refused(code);
    this.traced(HTTP_ERROR_STATUS[code], code);
    this.finish();
    if (!this.socket.writable) return void this.socket.destroy();
    this.closeAfterAnswer(rawError(code, message, this.head.requestId));
  }

  /**
   * Ends the client's connection after an answer: closed a grace after the answer is all out (a
   * client that keeps its side open), or after the idle timeout if the client does not read it.
   */
  private closeAfterAnswer(last?: string | Buffer): void {
    const socket = this.socket;
    socket.end(last);
    socket.once('finish', () => setTimeout(() => socket.destroy(), ERROR_CLOSE_GRACE_MS).unref());
    if (socket instanceof Socket && this.services.idleMs > 0) socket.setTimeout(this.services.idleMs, () => socket.destroy());
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.onOver();
  }

  /** One trace line per upgrade decision (only while the trace is on). */
  private traced(status: number, outcome: string): void {
    if (!this.services.trace.on) return;
    const r = { requestId: this.head.requestId, method: this.req.method ?? '', path: String(this.dispatchOptions.path), policy: this.policy, server: this.endpoint, attempts: this.attempts, status, outcome, startedAt: this.startedAt, traceparent: this.head.traceparent };
    this.services.trace.http(this, r);
  }
}
