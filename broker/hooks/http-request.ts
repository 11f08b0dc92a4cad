/**
 * The request side of the HTTP hooks for one request: buffer the body when an interceptor asks
 * (413 past its maxBytes), run the onRequest hooks in order, and say what follows: forward the
 * (changed) request, answer it directly, or fail it. Runs once per request, before the first
 * attempt: a retry after a backend failure sends the same request and calls no hook again.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../support/logger.js';
import { headersForBody } from './body.js';
import { describeFailure, logFailure, runChain } from './call.js';
import type { Hook } from './check.js';
import { RequestContext, type HttpAnswer, type RequestState } from './contexts.js';
import type { HookCounters } from './counters.js';
import { HeaderList } from './header-list.js';

export type RequestResult =
  | { readonly kind: 'forward' }
  | { readonly kind: 'answer'; readonly answer: HttpAnswer; readonly hook: string }
  | { readonly kind: 'too-large'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string };

/** One captured request: the hooks it matched and the request as they leave it. */
export class HttpHookRun {
  readonly request: RequestState;
  /** Per interceptor, the state its onRequest leaves for its onResponse. */
  readonly states = new Map<Hook, Record<string, unknown>>();
  private readonly originalQuery: string;

  constructor(
    /** Matched interceptors, in order. */
    readonly hooks: readonly Hook[],
    readonly counters: HookCounters,
    readonly log: Logger,
    method: string,
    path: string,
    query: string,
    policy: number,
    headers: readonly string[],
    readonly requestId: string,
    readonly clientAddress: string,
  ) {
    this.originalQuery = query;
    this.request = { method, path, query: new URLSearchParams(query), policy, headers: new HeaderList(headers), body: undefined, bodyChanged: false };
    for (const hook of hooks) this.states.set(hook, {});
  }

  /** Whether any matched interceptor has onResponse. */
  get wantsResponse(): boolean {
    return this.hooks.some((hook) => hook.def.onResponse !== undefined);
  }

  /** Path and query as they go upstream; an untouched query keeps its bytes. */
  target(): string {
    const query = this.request.query.toString();
    const q = query === new URLSearchParams(this.originalQuery).toString() ? this.originalQuery : query;
    return q === '' ? this.request.path : `${this.request.path}?${q}`;
  }

  /** Buffers the body if asked, runs the onRequest hooks, and reports what follows, once. */
  run(req: IncomingMessage, hasBody: boolean, done: (result: RequestResult) => void): void {
    const limit = bodyLimit(this.hooks);
    if (limit === undefined || !hasBody) return this.runHooks(done);
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > limit.maxBytes) return done(this.tooLarge(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit.maxBytes) {
        cleanUp();
        done(this.tooLarge(limit));
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanUp();
      this.request.body = Buffer.concat(chunks, size);
      this.runHooks(done);
    };
    // A client that leaves mid-body: the exchange hears of it from the connection.
    const cleanUp = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
    };
    req.on('data', onData);
    req.on('end', onEnd);
  }

  private tooLarge(limit: { hook: Hook; maxBytes: number }): RequestResult {
    this.counters.of(limit.hook.name).overflows++;
    return { kind: 'too-large', message: `the request body is larger than ${limit.maxBytes} bytes (interceptor ${limit.hook.name})` };
  }

  private runHooks(done: (result: RequestResult) => void): void {
    const withHook = this.hooks.filter((hook) => hook.def.onRequest !== undefined);
    if (withHook.length === 0) return done({ kind: 'forward' });
    let ctx: RequestContext | undefined;
    let answered: RequestResult | undefined;
    runChain(
      withHook,
      (hook) => this.counters.of(hook.name),
      {
        invoke: (hook) => {
          ctx = new RequestContext(hook.name, this.request, this.states.get(hook)!, this.requestId, this.clientAddress, hook.bufferRequest !== undefined && this.request.body !== undefined);
          return hook.def.onRequest!(ctx);
        },
        commit: (hook) => {
          const c = ctx!;
          if (c.answer !== undefined) {
            this.counters.of(hook.name).answered++;
            answered = { kind: 'answer', answer: c.answer, hook: hook.name };
            return false;
          }
          this.commit(hook, c);
          return true;
        },
        failed: (hook, outcome, error) => logFailure(this.log, hook, 'onRequest', outcome, error, { requestId: this.requestId }),
      },
      (failure) => done(answered ?? (failure === undefined ? this.finished() : { kind: 'failed', message: describeFailure(failure) })),
    );
  }

  private commit(hook: Hook, c: RequestContext): void {
    const r = this.request;
    if (c.policy !== r.policy) {
      this.counters.of(hook.name).policyChanges++;
      this.log.info('interceptor changed the policy', { hook: hook.name, from: r.policy, to: c.policy, requestId: this.requestId });
    }
    r.method = c.method;
    r.path = c.path;
    r.query = c.query;
    r.policy = c.policy;
    r.headers = c.headers;
    r.body = c.body;
    r.bodyChanged ||= c.bodyChanged;
  }

  /** The chain ran through: a buffered body is sent whole, with its length. */
  private finished(): RequestResult {
    if (this.request.body !== undefined) headersForBody(this.request.headers, this.request.body.length, this.request.bodyChanged);
    return { kind: 'forward' };
  }
}


/** The smallest request limit among the matched interceptors, and whose it is. */
function bodyLimit(hooks: readonly Hook[]): { hook: Hook; maxBytes: number } | undefined {
  let limit: { hook: Hook; maxBytes: number } | undefined;
  for (const hook of hooks) {
    const max = hook.bufferRequest?.maxBytes;
    if (max !== undefined && (limit === undefined || max < limit.maxBytes)) limit = { hook, maxBytes: max };
  }
  return limit;
}
