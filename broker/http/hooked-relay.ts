/**
 * The response hooks in front of a relay, as undici's `compose` puts an interceptor in front of
 * a dispatch: the same handler interface, wrapping the ResponseRelay. A final response goes to
 * the hooks' ResponseTap (hooks/http-response.ts), which holds it while they run and then sends
 * what they left through the relay (its ResponseSink); interim responses, errors and a response
 * the tap lets pass go straight to the relay. One per request, like the tap: a retry after a
 * failed attempt starts the tap again, and what the hooks of an old attempt finish is dropped.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { HttpHookRun } from '../hooks/http-request.js';
import { ResponseTap } from '../hooks/http-response.js';
import { forwardResponseHeaders } from './headers.js';
import type { ResponseRelay } from './response-relay.js';

export class HookedRelay implements Dispatcher.DispatchHandler {
  private readonly tap: ResponseTap;

  constructor(
    run: HttpHookRun,
    private readonly relay: ResponseRelay,
    private readonly requestId: string,
  ) {
    this.tap = new ResponseTap(run, relay);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.relay.onRequestStart(controller);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (!this.relay.live || statusCode < 200) return this.relay.onResponseStart(controller, statusCode, headers, statusMessage);
    this.tap.start(controller, statusCode, statusMessage === '' ? undefined : statusMessage, forwardResponseHeaders(controller.rawHeaders as Buffer[], this.requestId));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.tap.holding) return this.tap.data(chunk);
    this.relay.onResponseData(controller, chunk);
  }

  onResponseEnd(): void {
    // Held by the hooks: the request is answered (and its backend released) once they are done.
    if (this.tap.holding && this.relay.live) return this.tap.end();
    this.relay.onResponseEnd();
  }

  onResponseError(controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.relay.onResponseError(controller, err);
  }
}
