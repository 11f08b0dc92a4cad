/**
 * The HTTP listener: an HTTP/1.1 reverse proxy on the broker's registry, over TLS (HTTPS) when
 * the broker has a certificate. Node's HTTP server parses and frames the client side
 * (keep-alive, pipelined requests answered in order, strict parsing); this file decides what
 * each request is (admin, refused, proxied), enforces the limits, and turns parse errors and
 * timeouts into short JSON answers before closing.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type { Interceptors } from '../hooks/interceptors.js';
import type { BrokerOptions } from '../options.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { MemberState } from '../routing/member.js';
import type { Logger } from '../support/logger.js';
import { normalizeHost } from '../support/net-address.js';
import { SecretCheck } from '../support/secret.js';
import { HttpBackendTable, type HttpBackend } from './backends.js';
import { Exchange, type ExchangeHost } from './exchange.js';
import { forwardRequestHeaders, type ForwardSettings } from './headers.js';
import { HealthMonitor } from './health.js';
import { HttpErrorCode, rawErrorResponse, sendError } from './http-errors.js';
import { Counters } from '../routing/counters.js';
import { originForm, requestPolicy } from './request-target.js';
import { createUpstream, type Upstream } from './upstream.js';

/** Answers the requests under the admin prefix; `path` is what follows the prefix, without the query. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean) => void;

/**
 * One client connection: whether it is past the connection limit, and its proxied requests in
 * arrival order. Only the first is sent to a backend; each next one starts when the one before
 * it is done (as nginx and HAProxy do): a client pipelining N requests holds one backend
 * connection, not N, and the answers, which must go back in order anyway, are not held in
 * memory while an earlier one is still coming.
 */
interface ClientConnection {
  readonly overLimit: boolean;
  readonly exchanges: Exchange[];
}

/** The most response bytes a backend may send in its head. */
const UPSTREAM_MAX_HEADER_BYTES = 64 * 1024;
/** How long a socket closed after a malformed request may linger for its answer to be read. */
const ERROR_CLOSE_GRACE_MS = 1000;

export class HttpFrontEnd implements ExchangeHost {
  readonly stats = new Counters('http');
  readonly table: HttpBackendTable;
  readonly health: HealthMonitor;
  readonly maxAttempts: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  /** Requests being proxied now. */
  inflight = 0;
  private server: Server | HttpsServer | undefined;
  /** Client connections as the HTTP server sees them (TLS sockets once their handshake is done). */
  private readonly connections = new Map<Socket, ClientConnection>();
  /** With TLS: the TCP connections under the TLS ones, including those still in their handshake. */
  private readonly tcpSockets = new Set<Socket>();
  private accepting = true;
  private readonly forward: ForwardSettings;
  private readonly token: SecretCheck | undefined;
  private readonly adminStem: string;
  private closing: Promise<void> | undefined;

  constructor(
    registry: PolicyTable,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    private readonly admin: AdminHandler,
    /** Certificate and key (listenerTls()): the listener speaks HTTPS. Undefined: plain HTTP. */
    private readonly tls?: SecureContextOptions,
    /** The broker's interceptors (docs/hooks.md), when it has HTTP ones. */
    readonly interceptors?: Interceptors,
  ) {
    this.maxAttempts = options.maxAttempts;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs;
    this.upstreamConnectTimeoutMs = options.upstreamConnectTimeoutMs;
    const upstreamAuthorization = options.upstreamToken === undefined ? undefined : `Bearer ${options.upstreamToken}`;
    this.forward = { upstreamAuthorization, dropClientAuthorization: options.httpToken !== undefined, forwardedProto: tls === undefined ? 'http' : 'https' };
    this.token = options.httpToken === undefined ? undefined : new SecretCheck(`Bearer ${options.httpToken}`);
    this.adminStem = options.adminPrefix.slice(0, -1);
    this.table = new HttpBackendTable(registry.strategy, options.httpPolicy, {
      createDispatcher: (backend) => this.createPool(backend),
      removed: (backend) => this.backendRemoved(backend),
      stateChanged: (backend, from) => this.backendStateChanged(backend, from),
    });
    this.health = new HealthMonitor(
      this.table,
      {
        path: options.healthPath,
        intervalMs: options.healthIntervalMs,
        timeoutMs: options.healthTimeoutMs,
        rise: options.healthRise,
        fall: options.healthFall,
        failTimeoutMs: options.failTimeoutMs,
        authorization: upstreamAuthorization,
      },
      log,
    );
    for (const entry of options.httpServers) this.stats.policy(this.table.addStatic(entry).policy);
    for (const member of registry.members()) {
      this.table.added(member);
      this.stats.added(member);
    }
    registry.observe(this.table);
    registry.observe(this.stats);
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening and checking backends; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    if (this.server !== undefined) throw new Error('the HTTP front end is already listening');
    const o = this.options;
    // The same options for HTTP and HTTPS (node:https reads every one of them like node:http).
    const httpOptions: ServerOptions = {
      insecureHTTPParser: false,
      maxHeaderSize: o.httpMaxHeaderBytes,
      // Checked with the other header rules, so that the answer is the same JSON.
      requireHostHeader: false,
      headersTimeout: o.httpHeadersTimeoutMs,
      // Whole requests may take long (large uploads); a stalled one hits the socket timeout.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(o.httpHeadersTimeoutMs / 4))),
      keepAliveTimeout: o.httpKeepAliveTimeoutMs,
      noDelay: true,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    const server =
      this.tls === undefined
        ? createServer(httpOptions, onRequest)
        : // HTTP/1.1 only; the handshake counts against the time to send a request head.
          createHttpsServer({ ...this.tls, ...httpOptions, ALPNProtocols: ['http/1.1'], handshakeTimeout: o.httpHeadersTimeoutMs }, onRequest);
    server.keepAliveTimeout = o.httpKeepAliveTimeoutMs;
    server.timeout = o.httpSocketTimeoutMs;
    if (this.tls === undefined) {
      server.on('connection', (socket: Socket) => this.onConnection(socket));
    } else {
      // Requests arrive on the TLS socket, which exists once the handshake is done.
      server.on('connection', (socket: Socket) => this.onTcpConnection(socket));
      server.on('secureConnection', (socket: Socket) => this.onConnection(socket));
    }
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => this.refuseRaw(socket, HttpErrorCode.METHOD_NOT_ALLOWED, 'CONNECT is not served: this is a reverse proxy'));
    this.server = server;
    const host = o.httpHost ?? o.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.httpPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('HTTP listener error', { error: err.message }));
    this.health.start();
    const address = server.address() as AddressInfo;
    this.log.info('HTTP front end listening', {
      address: `${address.address}:${address.port}`,
      defaultPolicy: o.httpPolicy,
      staticServers: o.httpServers.length,
      tls: this.tls !== undefined,
    });
    return address;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() ?? undefined) as AddressInfo | undefined;
  }

  /**
   * Stops accepting, lets the requests in flight finish (up to drainMs), then closes every
   * connection and every backend pool. Safe to call twice.
   */
  close(drainMs: number): Promise<void> {
    this.closing ??= this.shutDown(drainMs);
    return this.closing;
  }

  // ExchangeHost

  exchangeDone(exchange: Exchange): void {
    this.inflight--;
    const list = exchange.connectionExchanges;
    if (list === undefined) return;
    const index = list.indexOf(exchange);
    if (index === -1) return;
    list.splice(index, 1);
    if (index === 0 && list.length > 0) list[0]!.start();
  }

  // Requests

  private onTcpConnection(socket: Socket): void {
    this.tcpSockets.add(socket);
    socket.once('close', () => this.tcpSockets.delete(socket));
  }

  private onConnection(socket: Socket): void {
    const connection: ClientConnection = { overLimit: this.connections.size >= this.options.httpMaxConnections, exchanges: [] };
    this.connections.set(socket, connection);
    socket.once('close', () => {
      this.connections.delete(socket);
      // Requests still in flight, answered or queued behind others, have nobody to go to
      // (the last first, so that ending one never starts the next).
      for (const exchange of connection.exchanges.slice().reverse()) exchange.clientGone();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.received++;
    const connection = this.connections.get(req.socket as Socket);
    if (req.httpVersionMajor !== 1) return this.reject(res, HttpErrorCode.VERSION_NOT_SUPPORTED, 'only HTTP/1.0 and HTTP/1.1 are served', undefined, true);
    if (connection === undefined || connection.overLimit) {
      return this.reject(res, HttpErrorCode.TOO_MANY_CONNECTIONS, `more than ${this.options.httpMaxConnections} client connections are open`, undefined, true);
    }
    const path = originForm(req.url ?? '');
    if (path === undefined) return this.reject(res, HttpErrorCode.BAD_REQUEST, 'the request target must be a path (or an absolute http URL)', undefined, true);
    if (path.startsWith(this.options.adminPrefix) || path === this.adminStem) return this.answerAdmin(req, res, path);
    const clientAddress = normalizeHost(req.socket.remoteAddress ?? '');
    const head = forwardRequestHeaders(req.rawHeaders, clientAddress, req.httpVersionMinor >= 1, this.forward);
    if ('bad' in head) return this.reject(res, HttpErrorCode.BAD_REQUEST, head.bad, undefined, true);
    const close = head.hasBody;
    if (!this.accepting) return this.reject(res, HttpErrorCode.SHUTTING_DOWN, 'the broker is shutting down', head.requestId, true);
    if (this.token !== undefined && !this.token.matches(head.authorization)) {
      return this.reject(res, HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>', head.requestId, close);
    }
    const policy = requestPolicy(head.policy, this.options.httpPolicy);
    if (policy === undefined) return this.reject(res, HttpErrorCode.BAD_REQUEST, `X-Privacy-Policy must be a whole number, got "${head.policy}"`, head.requestId, close);
    // Captured requests may be answered by a hook, or sent to another policy: the exchange checks.
    const hooks = this.interceptors?.forRequest(req.method!, path, policy, head.headers, head.requestId, clientAddress);
    if (hooks === undefined && !this.table.knows(policy)) return this.reject(res, HttpErrorCode.UNKNOWN_POLICY, `no HTTP server for policy ${policy}`, head.requestId, close);
    if (this.inflight >= this.options.httpMaxInflight) {
      return this.reject(res, HttpErrorCode.OVERLOADED, `${this.options.httpMaxInflight} requests are already in flight`, head.requestId, close);
    }
    const exchange = new Exchange(this, req, res, policy, head, path);
    exchange.connectionExchanges = connection.exchanges;
    exchange.hooks = hooks;
    connection.exchanges.push(exchange);
    this.inflight++;
    if (connection.exchanges.length === 1) exchange.start();
  }

  private answerAdmin(req: IncomingMessage, res: ServerResponse, path: string): void {
    const query = path.indexOf('?');
    const rest = (query === -1 ? path : path.slice(0, query)).slice(this.options.adminPrefix.length);
    const authorized = this.token === undefined || this.token.matches(req.headers.authorization);
    this.admin(req, res, rest, authorized);
  }

  private reject(res: ServerResponse, code: HttpErrorCode, message: string, requestId: string | undefined, close: boolean): void {
    this.stats.countError(code);
    sendError(res, code, message, requestId, close);
  }

  /**
   * A request Node's parser refused (malformed, too large, too slow). The connection's requests
   * in flight are dropped; unless a response has begun on it, an error answer goes out; then
   * the connection closes.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const connection = this.connections.get(socket as Socket);
    if (this.tls !== undefined && connection === undefined) {
      // A failed TLS handshake (plain HTTP on this port, an untrusting or slow client): nothing to answer in.
      this.log.debug('TLS handshake failed', { error: err.message });
      socket.destroy();
      return;
    }
    if (connection !== undefined) for (const exchange of connection.exchanges.slice().reverse()) exchange.clientGone();
    // The response in progress (Node's own field): once its head is out, a raw answer would corrupt it.
    const current = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent === true) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.refuseRaw(socket, HttpErrorCode.REQUEST_TIMEOUT, `no complete request head within ${this.options.httpHeadersTimeoutMs} ms`);
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      this.refuseRaw(socket, HttpErrorCode.BAD_REQUEST, `request head longer than ${this.options.httpMaxHeaderBytes} bytes`);
    } else {
      const reason = (err as { reason?: unknown }).reason;
      this.refuseRaw(socket, HttpErrorCode.BAD_REQUEST, `malformed request: ${typeof reason === 'string' ? reason : err.message}`);
    }
  }

  /** Writes a whole error response on a raw socket and closes it. */
  private refuseRaw(socket: Duplex, code: HttpErrorCode, message: string): void {
    this.stats.countError(code);
    socket.end(rawErrorResponse(code, message));
    setTimeout(() => socket.destroy(), ERROR_CLOSE_GRACE_MS).unref();
  }

  // Backends

  private createPool(backend: HttpBackend): Upstream {
    const o = this.options;
    return createUpstream(backend.origin, {
      connections: o.upstreamConnections,
      headersTimeout: o.upstreamTimeoutMs,
      bodyTimeout: o.upstreamTimeoutMs,
      connect: { timeout: o.upstreamConnectTimeoutMs },
      strictContentLength: true,
      maxHeaderSize: UPSTREAM_MAX_HEADER_BYTES,
    });
  }

  private backendRemoved(backend: HttpBackend): void {
    this.health.forget(backend);
    // Requests in flight on it finish (or fail and are retried); then its connections close.
    backend.dispatcher.close().catch(() => undefined);
    this.log.debug('HTTP server removed', { id: backend.id, policy: backend.policy, address: backend.address });
  }

  private backendStateChanged(backend: HttpBackend, from: MemberState): void {
    const fields = { id: backend.id, policy: backend.policy, address: backend.address, source: backend.source };
    if (backend.state === 'down') this.log.warn('HTTP server down', { ...fields, reason: backend.lastError });
    else if (from === 'down') this.log.info('HTTP server up again', fields);
    else this.log.debug('HTTP server state', { ...fields, from, to: backend.state });
  }

  private async shutDown(drainMs: number): Promise<void> {
    this.accepting = false;
    const server = this.server;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    server?.closeIdleConnections();
    await this.health.stop();
    const deadline = Date.now() + drainMs;
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.inflight > 0) this.log.warn('HTTP drain timed out; closing the rest', { inflight: this.inflight });
    server?.closeAllConnections();
    for (const socket of this.connections.keys()) socket.destroy();
    for (const socket of this.tcpSockets) socket.destroy();
    const pools = [...this.table.backends()].map((backend) => backend.dispatcher);
    this.table.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
    await closed;
  }
}
