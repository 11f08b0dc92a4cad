/**
 * A server's HTTP side (policy-server-pool --http), in the manner of the `whoami` image: a
 * page naming the server id, policy and host and echoing the request, plus a few endpoints
 * for tests and benchmarks. Every response carries X-Server-Id and X-Policy.
 *
 * - GET /health            200 {"status":"ok","id":…}
 * - /api                   the whoami page as JSON
 * - /bench                 "1", as small as an answer gets
 * - /data?size=N           N bytes (chunked), streamed with backpressure
 * - /echo                  the request body back (chunked), streamed with backpressure
 * - anything else          the whoami page as text
 * - ?wait=MS on any path   answers after MS milliseconds
 * - ?hold=NAME on any path  answers once /release?hold=NAME is requested on this server (tests
 *                           hold a request in flight for exactly as long as they need)
 * - /release?hold=NAME      answers the requests held under NAME: 200 {"released":N}
 * - a WebSocket handshake on any path: an echo naming the server (ws-echo.ts)
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../broker/support/logger.js';
import { WebSocketEcho } from './ws-echo.js';

export interface WhoamiSettings {
  serverId: number;
  policy: number;
  logger: Logger;
}

/** The largest /data answer served, and the longest ?wait honoured. */
const MAX_DATA_BYTES = 64 * 1024 * 1024 * 1024;
const MAX_WAIT_MS = 600_000;
const CLOSE_POLL_MS = 10;
const DATA_CHUNK = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n');

export class WhoamiHttpServer {
  /** Requests answered. */
  served = 0;
  private readonly server: Server;
  private readonly idHeaders: string[];
  /** Requests held by ?hold=NAME, by name, until /release?hold=NAME. */
  private readonly held = new Map<string, Array<() => void>>();
  /** Its WebSockets. */
  readonly webSockets: WebSocketEcho;

  constructor(private readonly settings: WhoamiSettings) {
    this.idHeaders = ['x-server-id', String(settings.serverId), 'x-policy', String(settings.policy)];
    this.server = createServer({ noDelay: true }, (req, res) => this.onRequest(req, res));
    this.webSockets = new WebSocketEcho(this.server, settings);
    this.server.on('clientError', (err, socket) => {
      settings.logger.debug('bad HTTP request', { id: settings.serverId, error: err.message });
      socket.destroy();
    });
  }

  /** The port it listens on; 0 before listen(). */
  get port(): number {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? (address as AddressInfo).port : 0;
  }

  async listen(port: number, host: string): Promise<void> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
  }

  /** Stops accepting, closes connections as they fall idle, and the rest after graceMs. */
  async close(graceMs: number): Promise<void> {
    if (!this.server.listening) return;
    let closed = false;
    this.server.close(() => {
      closed = true;
    });
    // The server's own count waits for upgraded sockets too: they go first, going away (1001).
    this.webSockets.closeAll();
    const deadline = Date.now() + graceMs;
    while (!closed && Date.now() < deadline) {
      this.server.closeIdleConnections();
      await sleep(CLOSE_POLL_MS);
    }
    this.server.closeAllConnections();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://server');
    const hold = url.searchParams.get('hold');
    if (hold !== null) {
      if (url.pathname === '/release') return this.release(res, hold);
      const list = this.held.get(hold) ?? [];
      list.push(() => this.answer(req, res, url));
      this.held.set(hold, list);
      return;
    }
    const wait = Math.min(MAX_WAIT_MS, Number(url.searchParams.get('wait') ?? 0) || 0);
    if (wait > 0) setTimeout(() => this.answer(req, res, url), wait);
    else this.answer(req, res, url);
  }

  private answer(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.served++;
    switch (url.pathname) {
      case '/health':
        return this.send(res, 200, 'application/json', JSON.stringify({ status: 'ok', id: this.settings.serverId }));
      case '/bench':
        return this.send(res, 200, 'text/plain', '1');
      case '/api':
        return this.send(res, 200, 'application/json', JSON.stringify(this.describe(req)));
      case '/data':
        return this.data(res, Math.min(MAX_DATA_BYTES, Math.max(0, Number(url.searchParams.get('size') ?? 0) || 0)));
      case '/echo':
        res.writeHead(200, [...this.idHeaders, 'content-type', req.headers['content-type'] ?? 'application/octet-stream']);
        pipeline(req, res, () => undefined);
        return;
      default:
        return this.send(res, 200, 'text/plain; charset=utf-8', this.page(req));
    }
  }

  private release(res: ServerResponse, hold: string): void {
    const list = this.held.get(hold) ?? [];
    this.held.delete(hold);
    for (const answer of list) answer();
    this.send(res, 200, 'application/json', JSON.stringify({ released: list.length }));
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, [...this.idHeaders, 'content-type', type, 'content-length', String(Buffer.byteLength(body))]);
    res.end(body);
  }

  /** `size` bytes of a repeating pattern, written as fast as the client reads. */
  private data(res: ServerResponse, size: number): void {
    res.writeHead(200, [...this.idHeaders, 'content-type', 'application/octet-stream']);
    let left = size;
    const write = (): void => {
      while (left > 0) {
        const n = Math.min(left, DATA_CHUNK.length);
        left -= n;
        if (!res.write(n === DATA_CHUNK.length ? DATA_CHUNK : DATA_CHUNK.subarray(0, n))) {
          res.once('drain', write);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => {
      left = 0;
    });
    write();
  }

  private describe(req: IncomingMessage): Record<string, unknown> {
    return {
      server: this.settings.serverId,
      policy: this.settings.policy,
      hostname: hostname(),
      ip: req.socket.localAddress,
      remoteAddr: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      method: req.method,
      url: req.url,
      host: req.headers.host,
      headers: req.headers,
    };
  }

  private page(req: IncomingMessage): string {
    const lines = [
      `Server: ${this.settings.serverId}`,
      `Policy: ${this.settings.policy}`,
      `Hostname: ${hostname()}`,
      `IP: ${req.socket.localAddress}`,
      `RemoteAddr: ${req.socket.remoteAddress}:${req.socket.remotePort}`,
      `${req.method} ${req.url} HTTP/${req.httpVersion}`,
    ];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    return lines.join('\n') + '\n';
  }
}
