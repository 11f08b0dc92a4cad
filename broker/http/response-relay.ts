/**
 * The relay of a proxied request's response: undici's handler for its attempts (undici 7's
 * interface: onRequestStart, onResponseStart, onResponseData, onResponseEnd, onResponseError),
 * which writes the backend's response to the client with backpressure both ways and tells the
 * request (its RelayTarget, the Exchange) how each attempt ended. One per request, begun again
 * for each attempt; its state lives in fields. The response head is relayed from the
 * controller's raw headers, as the backend sent them, not from the parsed object undici also
 * passes. Once the head is out nothing can be retried: `headSent` says so.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ResponseSink } from '../hooks/http-response.js';
import type { Failure } from '../routing/attempts.js';
import type { Endpoint } from '../routing/member.js';
import { forwardResponseHeaders } from './headers.js';
import { HttpErrorCode } from './http-errors.js';
import { ClientGone, HookAbort, UnrelayableResponse } from './upstream-failure.js';

/** What a relay tells its request: the one outcome of each attempt. */
export interface RelayTarget {
  /** False once the request is over (answered, failed, client gone). */
  readonly live: boolean;
  /** The backend's response is relayed whole (or, with the request over, its backend only released). */
  answered(endpoint: Endpoint): void;
  /** The attempt failed: `err` from undici, or a failure the relay decided. */
  failed(endpoint: Endpoint, err: Error | Failure<HttpErrorCode>): void;
}

export class ResponseRelay implements Dispatcher.DispatchHandler, ResponseSink {
  /** The backend of the current attempt. */
  endpoint: Endpoint | undefined;
  /** True once the response head is out: nothing can be retried. */
  headSent = false;
  /** The status relayed, for the metrics and the trace. */
  status = 0;
  /** The current attempt's controller (abort, pause, resume); undefined until undici starts it. */
  private controller: Dispatcher.DispatchController | undefined;
  private drainHooked = false;

  constructor(
    private readonly target: RelayTarget,
    private readonly res: ServerResponse,
    private readonly requestId: string,
  ) {}

  /** A new attempt on `endpoint`. */
  begin(endpoint: Endpoint): void {
    this.endpoint = endpoint;
    this.controller = undefined;
  }

  /** The client has gone: the current attempt stops. */
  abort(): void {
    this.controller?.abort(new ClientGone());
  }

  // undici's handler interface

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The client left while the request waited for a connection.
    if (!this.target.live) controller.abort(new ClientGone());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (!this.target.live) return;
    if (statusCode < 200) return this.informational(statusCode, controller.rawHeaders as Buffer[]);
    this.relayHead(statusCode, statusMessage === '' ? undefined : statusMessage, forwardResponseHeaders(controller.rawHeaders as Buffer[], this.requestId), controller);
  }

  /** Pauses the backend's response until the client's socket drains. */
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.relayData(controller, chunk);
  }

  onResponseEnd(): void {
    this.target.answered(this.endpoint!);
  }

  /** The attempt failed; `controller` is undefined when it failed before it started. */
  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.target.failed(this.endpoint!, err);
  }

  // ResponseSink: how the response hooks' tap sends a response it held

  get live(): boolean {
    return this.target.live;
  }

  relayHead(status: number, statusMessage: string | undefined, headers: string[], controller: Dispatcher.DispatchController | undefined): boolean {
    if (!this.target.live) return false;
    try {
      this.res.writeHead(status, statusMessage, headers);
    } catch (err) {
      const message = `its response head cannot be relayed: ${(err as Error).message}`;
      if (controller !== undefined) controller.abort(new UnrelayableResponse(message));
      else this.target.failed(this.endpoint!, { code: HttpErrorCode.BAD_GATEWAY, message, retry: false });
      return false;
    }
    this.headSent = true;
    this.status = status;
    return true;
  }

  relayData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.target.live || this.res.write(chunk)) return;
    controller.pause();
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.controller?.resume());
    }
  }

  complete(): void {
    this.target.answered(this.endpoint!);
  }

  failResponse(code: 'HOOK_FAILED' | 'BAD_GATEWAY', message: string, controller: Dispatcher.DispatchController | undefined): void {
    // Still arriving: the abort ends the attempt (onResponseError), which answers the 502.
    if (controller !== undefined) controller.abort(new HookAbort(HttpErrorCode[code], message));
    else this.target.failed(this.endpoint!, { code: HttpErrorCode[code], message, retry: false });
  }

  private informational(statusCode: number, raw: readonly Buffer[]): void {
    // Behind a pipelined response still being sent, Node would queue the interim response
    // after the final head: drop it then (interim responses may be dropped).
    if (this.res.socket === null) return;
    if (statusCode === 102) {
      this.res.writeProcessing();
    } else if (statusCode === 103) {
      const hints: Record<string, string | string[]> = {};
      const headers = forwardResponseHeaders(raw, this.requestId);
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
}
