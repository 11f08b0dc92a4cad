/**
 * The response side of the HTTP hooks for one request: it takes the backend's response from
 * the exchange, holds it while the onResponse hooks run (in reverse order), and gives the
 * exchange what to send. Without bufferResponse only the head is held (the body waits, paused,
 * then streams); with it the body is gathered up to the largest maxBytes, decoded for the hooks
 * when compressed, and sent whole. Hooks run only on a complete response (or head), so a
 * retry after a failed attempt re-runs nothing the client has seen: nothing reached it yet.
 */
import type { Dispatcher } from 'undici';
import { decodeBody, responseHasNoBody } from './body.js';
import { frameResponse, singleLength, type BodyFraming } from './framing.js';
import { describeFailure, logFailure, runChain } from './call.js';
import type { Hook } from './check.js';
import { ResponseContext } from './contexts.js';
import { firstInvalidHeader, HeaderList } from './header-list.js';
import type { HttpHookRun } from './http-request.js';

/** What the tap needs of the exchange. */
export interface ResponseSink {
  /** False once the exchange is over (answered, failed, client gone). */
  readonly live: boolean;
  /** Writes the response head; false if it cannot be relayed (the sink has dealt with it). */
  relayHead(status: number, statusMessage: string | undefined, headers: string[], controller: Dispatcher.DispatchController | undefined): boolean;
  /** Writes a body chunk, pausing `controller` while the client's socket is full. */
  relayData(controller: Dispatcher.DispatchController, chunk: Buffer): void;
  /**
   * The backend's response is over and what the client gets of it is out: the request is
   * answered (or, with the exchange over, its backend only released).
   */
  complete(): void;
  /**
   * Answers 502 with this code (HOOK_FAILED or BAD_GATEWAY) instead of the response; with the
   * response still arriving (`controller`), by aborting it.
   */
  failResponse(code: 'HOOK_FAILED' | 'BAD_GATEWAY', message: string, controller: Dispatcher.DispatchController | undefined): void;
}

type TapState = 'idle' | 'buffer' | 'hold' | 'pass';

export class ResponseTap {
  private readonly hooks: readonly Hook[];
  private readonly bufferHooks: readonly Hook[];
  private readonly maxBytes: number;
  private state: TapState = 'idle';
  private attempt = 0;
  private controller: Dispatcher.DispatchController | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private status = 0;
  private statusMessage: string | undefined;
  private headers = new HeaderList();
  /** The backend's Content-Length, before any hook (framing.ts). */
  private backendLength: number | undefined;

  constructor(
    private readonly run: HttpHookRun,
    private readonly sink: ResponseSink,
  ) {
    this.hooks = run.hooks.filter((hook) => hook.def.onResponse !== undefined).reverse();
    this.bufferHooks = this.hooks.filter((hook) => hook.bufferResponse !== undefined);
    this.maxBytes = Math.max(0, ...this.bufferHooks.map((hook) => hook.bufferResponse!.maxBytes));
  }

  /** True while the tap holds the response: the exchange hands it body chunks and the end. */
  get holding(): boolean {
    return this.state === 'buffer' || this.state === 'hold';
  }

  /** A final response head arrived (after a new attempt, the last one's is forgotten). */
  start(controller: Dispatcher.DispatchController, status: number, statusMessage: string | undefined, headers: string[]): void {
    this.attempt++;
    this.controller = controller;
    this.chunks = [];
    this.size = 0;
    this.ended = false;
    this.status = status;
    this.statusMessage = statusMessage;
    this.headers = new HeaderList(headers);
    this.backendLength = singleLength(this.headers);
    const noBody = responseHasNoBody(this.run.request.method, status);
    if (this.bufferHooks.length === 0 || noBody) {
      this.hold();
      // No body, no body hooks (as nginx's body filters and Envoy's encodeData): the others run.
      this.runHooks(undefined, noBody ? new Set(this.bufferHooks) : new Set());
      return;
    }
    this.state = 'buffer';
    const length = Number(this.headers.get('content-length'));
    if (length > this.maxBytes) this.overflow(new Set(this.bufferHooks));
  }

  data(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.state === 'buffer' && this.size > this.maxBytes) this.overflow(new Set(this.bufferHooks));
  }

  /** The backend's response is complete. */
  end(): void {
    this.ended = true;
    if (this.state === 'buffer') {
      this.state = 'hold';
      void this.bodyHooks(this.attempt);
    }
    // In 'hold', the hooks still run: they send what came once they are done.
  }

  private hold(): void {
    this.state = 'hold';
    this.controller?.pause();
  }

  /** Some buffering hooks cannot have the body: 502 if one of them says so, else they are skipped. */
  private overflow(over: Set<Hook>, why = `larger than ${this.maxBytes} bytes`): boolean {
    for (const hook of over) this.run.counters.of(hook.name).overflows++;
    const strict = [...over].find((hook) => hook.bufferResponse!.onOverflow === 'error');
    if (strict !== undefined) {
      this.state = 'pass';
      this.sink.failResponse('BAD_GATEWAY', `the response is ${why} (interceptor ${strict.name})`, this.ended ? undefined : this.controller);
      return true;
    }
    if (this.state === 'buffer') {
      this.hold();
      this.runHooks(undefined, over);
    }
    return false;
  }

  /** The whole body is in: skip the hooks it is too large for, decode it, run the hooks. */
  private async bodyHooks(attempt: number): Promise<void> {
    const raw = Buffer.concat(this.chunks, this.size);
    const over = new Set(this.bufferHooks.filter((hook) => raw.length > hook.bufferResponse!.maxBytes));
    if (over.size > 0 && this.overflow(over)) return;
    const decoded = await decodeBody(this.headers.get('content-encoding'), raw, this.maxBytes);
    if (this.stale(attempt)) return;
    if ('body' in decoded) {
      const tooLarge = new Set(this.bufferHooks.filter((hook) => !over.has(hook) && decoded.body.length > hook.bufferResponse!.maxBytes));
      for (const hook of tooLarge) over.add(hook);
      if (tooLarge.size > 0 && this.overflow(tooLarge, 'larger than its limit once decoded')) return;
      this.runHooks(decoded.body, over);
    } else {
      const left = new Set(this.bufferHooks.filter((hook) => !over.has(hook)));
      if (this.overflow(left, 'overflow' in decoded ? 'larger than its limit once decoded' : `unreadable (${decoded.unreadable})`)) return;
      for (const hook of left) over.add(hook);
      this.runHooks(undefined, over);
    }
  }

  /** Runs the hooks not in `skip`; buffering ones get `body`. Then sends the result. */
  private runHooks(body: Buffer | undefined, skip: Set<Hook>): void {
    const attempt = this.attempt;
    const hooks = this.hooks.filter((hook) => !skip.has(hook));
    const request = { ...this.run.request };
    let current = { status: this.status, headers: this.headers, body, changed: false };
    let ctx: ResponseContext | undefined;
    runChain(
      hooks,
      (hook) => this.run.counters.of(hook.name),
      {
        invoke: (hook) => {
          ctx = new ResponseContext(hook.name, request, current.status, current.headers, hook.bufferResponse === undefined ? undefined : current.body, this.run.states.get(hook)!, this.run.requestId);
          return hook.def.onResponse!(ctx);
        },
        commit: (hook) => {
          const c = ctx!;
          const changed = c.bodyChanged && hook.bufferResponse !== undefined;
          current = { status: c.status, headers: c.headers, body: changed ? c.body : current.body, changed: current.changed || changed };
          return true;
        },
        failed: (hook, outcome, error) =>
          logFailure(this.run.log, hook, 'onResponse', outcome, error, { requestId: this.run.requestId }),
      },
      (failure) => {
        if (this.stale(attempt)) return;
        if (failure !== undefined) {
          this.state = 'pass';
          this.sink.failResponse('HOOK_FAILED', describeFailure(failure), this.ended ? undefined : this.controller);
          return;
        }
        this.send(current.status, current.headers, current.changed ? current.body : undefined);
      },
    );
  }

  /**
   * True when hooks finishing now must do nothing: a later attempt replaced this one (the
   * exchange already released it), or the exchange is over (client gone), in which case a
   * response that ended still holds its backend until told.
   */
  private stale(attempt: number): boolean {
    if (attempt !== this.attempt) return true;
    if (this.sink.live) return false;
    if (this.ended && this.state !== 'pass') {
      this.state = 'pass';
      this.sink.complete();
    }
    return true;
  }

  /** Sends the head and what has come of the body; streams the rest, or ends. */
  private send(status: number, headers: HeaderList, changedBody: Buffer | undefined): void {
    const invalid = firstInvalidHeader(headers.raw);
    if (invalid !== undefined) {
      this.state = 'pass';
      this.sink.failResponse('HOOK_FAILED', `an onResponse hook left header ${invalid} that may not be sent (a CR, LF or NUL in a value, or not a token)`, this.ended ? undefined : this.controller);
      return;
    }
    const noBody = responseHasNoBody(this.run.request.method, status);
    // Responses without a body stay so, whatever a hook set (RFC 9110 §6.4.1).
    const newBody = noBody ? undefined : changedBody;
    const framing: BodyFraming = noBody
      ? { kind: 'none', status }
      : newBody !== undefined
        ? { kind: 'whole', length: newBody.length, changed: true }
        : this.ended
          ? { kind: 'whole', length: this.size, changed: false }
          : { kind: 'stream' };
    frameResponse(headers, framing, this.backendLength);
    const controller = this.ended ? undefined : this.controller;
    const message = status === this.status ? this.statusMessage : undefined;
    if (!this.sink.relayHead(status, message, headers.raw, controller)) return;
    this.state = 'pass';
    const chunks = newBody !== undefined ? [newBody] : noBody ? [] : this.chunks;
    this.chunks = [];
    for (const chunk of chunks) if (chunk.length > 0) this.sink.relayData(this.controller!, chunk);
    // Body hooks run once the response is complete; header-only ones may finish before it.
    if (this.ended) this.sink.complete();
    else this.controller?.resume();
  }
}
