/**
 * The runtime API (admin/runtime-api.ts) as `policy-broker ctl` calls it: one request per
 * call, JSON both ways, the token as a Bearer header. A broker that cannot be reached, or that
 * refuses, is a CtlError whose message says which and why (the API's own message).
 */
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import type { ServerRow } from '../admin/runtime-api.js';
import type { ReloadResult } from '../http/static-backends.js';

export type { ServerRow, ReloadResult };

/** What the operator may change of a server (the API's PATCH body). */
export interface ServerChange {
  state?: 'drain' | 'disabled' | 'up';
  weight?: number;
}

/** Why a call failed: the broker was not reached, or it answered with an error. */
export class CtlError extends Error {
  constructor(
    readonly code: 'UNREACHABLE' | 'REFUSED' | 'BAD_ANSWER',
    message: string,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

export interface ApiClientOptions {
  /** The broker's admin prefix as a URL, e.g. http://127.0.0.1:9000/_broker/. */
  admin: string;
  token?: string | undefined;
  /** PEM CA file for an https:// admin URL with a private CA. */
  ca?: string | undefined;
  timeoutMs?: number;
}

/** The admin URL as given, with `/_broker/` when it names no path and a final `/`. */
export function adminBase(url: string): URL {
  const base = new URL(url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`expected an http:// or https:// URL, got "${url}"`);
  if (base.pathname === '/') base.pathname = '/_broker/';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base;
}

export class RuntimeApiClient {
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.base = adminBase(options.admin);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const t = this.timeoutMs;
    this.dispatcher = new Agent({ headersTimeout: t, bodyTimeout: t, connect: { timeout: t, ...(options.ca !== undefined && { ca: readFileSync(options.ca) }) } });
  }

  /** Every member the broker knows. */
  async servers(): Promise<ServerRow[]> {
    return ((await this.call('GET', 'api/servers')) as { servers: ServerRow[] }).servers;
  }

  /** Changes one server (by key: a registered id, or a static backend's IP:PORT); the rows changed. */
  async change(key: string, change: ServerChange): Promise<ServerRow[]> {
    return ((await this.call('PATCH', `api/servers/${encodeURIComponent(key)}`, change)) as { changed: ServerRow[] }).changed;
  }

  /** Reads servers.conf again. */
  async reload(): Promise<ReloadResult> {
    return ((await this.call('POST', 'api/reload')) as { reloaded: ReloadResult }).reloaded;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async call(method: 'GET' | 'PATCH' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method, headers, body: body === undefined ? null : JSON.stringify(body), dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new CtlError('UNREACHABLE', `cannot reach the broker at ${this.base.origin}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new CtlError('BAD_ANSWER', `${method} ${url.pathname} answered ${res.statusCode}, not JSON: is ${this.base.href} the broker's admin prefix?`);
    }
    if (res.statusCode >= 400) {
      const message = (value as { message?: unknown }).message;
      throw new CtlError('REFUSED', `${method} ${url.pathname}: ${res.statusCode} ${typeof message === 'string' ? message : text}`);
    }
    return value;
  }
}
