/**
 * One client connection to an HTTP proxy, written to by hand so that requests can be pipelined
 * (node:http and undici never do) and each read is bounded: the next response, "closed",
 * "timeout" or the reason the bytes could not be read as HTTP.
 */
import type { Socket } from 'node:net';
import { dial } from './dial.js';
import { Inbox } from './inbox.js';
import { ResponseParser, type Response } from './response-parser.js';

export type HttpReceived = { kind: 'response'; response: Response } | { kind: 'error'; message: string } | { kind: 'closed' } | { kind: 'timeout' };
type Item = { kind: 'response'; response: Response } | { kind: 'error'; message: string };

/** Responses no check has asked for yet: a check pipelines at most a few hundred. */
const MAX_UNREAD = 10_000;

export class HttpConnection {
  private readonly inbox: Inbox<Item>;

  private constructor(readonly socket: Socket) {
    this.inbox = new Inbox<Item>(MAX_UNREAD, () => socket.destroy());
    const parser = new ResponseParser(
      (response) => this.inbox.deliver({ kind: 'response', response }),
      (message) => {
        // Nothing after an unreadable response can be framed: stop reading (and buffering) at once.
        this.inbox.deliver({ kind: 'error', message });
        socket.destroy();
      },
    );
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', () => undefined);
    socket.on('end', () => parser.end());
    socket.on('close', () => this.inbox.close());
  }

  static async open(host: string, port: number, timeoutMs: number): Promise<HttpConnection> {
    return new HttpConnection(await dial(host, port, timeoutMs));
  }

  /** Whether the connection is still open for writing. */
  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  write(bytes: string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  async next(timeoutMs: number): Promise<HttpReceived> {
    const next = await this.inbox.next(timeoutMs);
    return next.kind === 'item' ? next.item : next;
  }

  /** The next response, or throws saying what came instead. */
  async nextResponse(timeoutMs: number, what: string): Promise<Response> {
    const received = await this.next(timeoutMs);
    if (received.kind === 'response') return received.response;
    throw new Error(`${what}: ${describeHttp(received, timeoutMs)}`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A GET request as bytes: HTTP/1.1, Host set, extra headers as given. */
export function getRequest(path: string, headers: Record<string, string> = {}, host = 'grader'): string {
  let text = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

export function describeHttp(received: HttpReceived, timeoutMs: number): string {
  switch (received.kind) {
    case 'timeout':
      return `no response within ${timeoutMs} ms`;
    case 'closed':
      return 'connection closed without a response';
    case 'error':
      return /too large/.test(received.message) ? received.message : `unreadable response (${received.message})`;
    case 'response':
      return `HTTP ${received.response.status}`;
  }
}
