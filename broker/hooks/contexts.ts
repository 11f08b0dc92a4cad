/**
 * The context objects hooks are called with: one per call, holding copies of the message, so
 * that a hook which fails or times out changes nothing, and one which finishes late changes
 * a dead copy. Setters check what a hook assigns (a bad value throws inside the hook, which
 * is then a failed call).
 */
import type { ClientPacket } from '../protocol/packet-types.js';
import { toBuffer } from './body.js';
import { HeaderList } from './header-list.js';
import type { HttpRequestContext, HttpRequestView, HttpResponseContext, PacketContext, ReplyContext } from './interceptor.js';

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PATH = /^\/[\x21-\x7e]*$/;

/** A direct answer from a hook. */
export interface HttpAnswer {
  status: number;
  headers: HeaderList;
  body: Buffer;
}

export function checkPolicy(policy: unknown): number {
  if (!Number.isSafeInteger(policy) || (policy as number) < 0) throw new TypeError(`policy must be a whole number, got ${String(policy)}`);
  return policy as number;
}

function checkStatus(status: unknown): number {
  if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599) throw new TypeError(`status must be from 200 to 599, got ${String(status)}`);
  return status as number;
}

/** The request a chain works on: what goes upstream once the chain is done. */
export interface RequestState extends HttpRequestView {
  headers: HeaderList;
  body: Buffer | undefined;
  bodyChanged: boolean;
}

export class RequestContext implements HttpRequestContext {
  readonly headers: HeaderList;
  readonly query: URLSearchParams;
  body: Buffer | undefined;
  bodyChanged = false;
  answer: HttpAnswer | undefined;
  private methodValue: string;
  private pathValue: string;
  private policyValue: number;

  constructor(
    readonly name: string,
    from: RequestState,
    readonly state: Record<string, unknown>,
    readonly requestId: string,
    readonly clientAddress: string,
    private readonly canSetBody: boolean,
  ) {
    this.methodValue = from.method;
    this.pathValue = from.path;
    this.policyValue = from.policy;
    this.query = new URLSearchParams(from.query);
    this.headers = new HeaderList(from.headers.raw);
    this.body = from.body;
  }

  get method(): string {
    return this.methodValue;
  }
  set method(value: string) {
    if (typeof value !== 'string' || !METHOD.test(value)) throw new TypeError(`invalid method "${String(value)}"`);
    this.methodValue = value.toUpperCase();
  }
  get path(): string {
    return this.pathValue;
  }
  set path(value: string) {
    if (typeof value !== 'string' || !PATH.test(value) || value.includes('?')) throw new TypeError(`path must start with "/" and hold no spaces or "?", got "${String(value)}"`);
    this.pathValue = value;
  }
  get policy(): number {
    return this.policyValue;
  }
  set policy(value: number) {
    this.policyValue = checkPolicy(value);
  }

  setBody(body: string | Uint8Array): void {
    if (!this.canSetBody) throw new TypeError('setBody needs bufferRequest on the interceptor');
    this.body = toBuffer(body);
    this.bodyChanged = true;
  }

  respond(status: number, headers: Record<string, string | readonly string[]> = {}, body: string | Uint8Array = ''): void {
    const list = new HeaderList();
    for (const [name, value] of Object.entries(headers)) list.append(name, value);
    this.answer = { status: checkStatus(status), headers: list, body: toBuffer(body) };
  }
}

export class ResponseContext implements HttpResponseContext {
  readonly headers: HeaderList;
  bodyChanged = false;
  private statusValue: number;

  constructor(
    readonly name: string,
    readonly request: Readonly<HttpRequestView>,
    status: number,
    headers: HeaderList,
    public body: Buffer | undefined,
    readonly state: Record<string, unknown>,
    readonly requestId: string,
  ) {
    this.statusValue = status;
    this.headers = new HeaderList(headers.raw);
  }

  get status(): number {
    return this.statusValue;
  }
  set status(value: number) {
    this.statusValue = checkStatus(value);
  }

  setBody(body: string | Uint8Array): void {
    if (this.body === undefined) throw new TypeError('setBody needs bufferResponse on the interceptor');
    this.body = toBuffer(body);
    this.bodyChanged = true;
  }
}

/** What a packet hook decided besides changing the packet. */
export type PacketVerdict = { readonly answer: string } | { readonly error: string; readonly message: string };

const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export class PacketHookContext implements PacketContext {
  verdict: PacketVerdict | undefined;

  constructor(
    readonly name: string,
    readonly state: Record<string, unknown>,
  ) {}

  answer(payload: string): void {
    if (typeof payload !== 'string') throw new TypeError('answer() takes the reply payload, a string');
    this.verdict = { answer: payload };
  }

  drop(code = 'HOOK_REJECTED', message = `rejected by interceptor ${this.name}`): void {
    if (typeof code !== 'string' || !CODE.test(code)) throw new TypeError(`drop() codes are upper case, like FORBIDDEN; got "${String(code)}"`);
    this.verdict = { error: code, message: String(message) };
  }
}

export class ReplyHookContext implements ReplyContext {
  constructor(
    readonly name: string,
    readonly state: Record<string, unknown>,
    readonly packet: Readonly<ClientPacket>,
  ) {}
}
