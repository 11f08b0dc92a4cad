/**
 * The grader's own HTTP backend, for grading an HTTP proxy: a node:http server on loopback that
 * answers every request with JSON naming itself and the request (path, X-Request-ID), echoes
 * X-Request-ID as a header, keeps connections alive, and records which connection each graded
 * request came on. It can die on its next graded request, to test failover with a request in
 * flight. Requests outside /grade/ (a proxy's health checks) are answered and not recorded.
 * A request body is read (up to 64 KiB) and named in the answer as `body`.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Arrival {
  path: string;
  requestId: string | undefined;
  /** Which of this backend's connections the request came on (0, 1, …). */
  connection: number;
  method: string;
}

/** The most of a request body a backend reads (the grader's own are a few bytes). */
const MAX_REQUEST_BODY = 64 * 1024;

/** Graded requests carry paths under this prefix. */
export const GRADED_PREFIX = '/grade/';

export class GraderBackend {
  readonly arrivals: Arrival[] = [];
  private readonly sockets = new Map<Socket, number>();
  private connections = 0;
  private dieOnNext = false;
  private dead = false;

  private constructor(
    readonly name: string,
    private readonly server: Server,
  ) {}

  /** Listens on host:port (port 0: any free port). */
  static async start(name: string, host = '127.0.0.1', port = 0): Promise<GraderBackend> {
    const server = createServer({ keepAliveTimeout: 30_000 });
    const backend = new GraderBackend(name, server);
    server.on('connection', (socket: Socket) => {
      if (backend.dead) {
        socket.destroy();
        return;
      }
      backend.sockets.set(socket, backend.connections++);
      socket.on('close', () => backend.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => backend.handle(req, res));
    server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    return backend;
  }

  get address(): { host: string; port: number } {
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** The next graded request is not answered: the backend dies on it, like a crashed process. */
  dieOnNextRequest(): void {
    this.dieOnNext = true;
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** Stops like a killed process: no listener, every connection reset. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.server.close();
    for (const socket of this.sockets.keys()) socket.resetAndDestroy();
  }

  close(): void {
    this.dead = true;
    this.server.close();
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const header = req.headers['x-request-id'];
    const requestId = Array.isArray(header) ? header.join(', ') : header;
    if (path.startsWith(GRADED_PREFIX)) {
      this.arrivals.push({ path, requestId, connection: this.sockets.get(req.socket) ?? -1, method: req.method ?? '' });
      if (this.dieOnNext) {
        this.kill();
        return;
      }
    }
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BODY) parts.push(chunk);
    });
    req.on('end', () => {
      const body = JSON.stringify({ backend: this.name, path, requestId: requestId ?? null, method: req.method, body: Buffer.concat(parts).toString('utf8') });
      const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Backend': this.name };
      if (requestId !== undefined) headers['X-Request-ID'] = requestId;
      res.writeHead(200, headers);
      res.end(body);
    });
  }
}
