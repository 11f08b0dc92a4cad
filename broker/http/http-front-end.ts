/**
 * The HTTP listener: an HTTP/1.1 reverse proxy over the broker's policy table, over TLS (HTTPS) when
 * the broker has a certificate. Node's HTTP server parses and frames the client side
 * (keep-alive, pipelined requests answered in order, strict parsing); this file decides what
 * each request is (admin, refused, proxied) and enforces the limits; parse errors and timeouts
 * become short JSON answers in client-errors.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type { BrokerOptions } from '../options.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { Logger } from '../support/logger.js';
import { Membership } from '../registry/membership.js';
import type { Interceptors } from '../hooks/interceptors.js';
import { SecretCheck } from '../support/secret.js';
import { AttemptPolicy } from '../routing/attempts.js';
import type { HttpBackendView } from './backend-view.js';
import { ListenGroup } from '../support/listen-group.js';
import { listenPlan } from '../support/reuse-port.js';
import { stopSequence, type Stoppable } from '../stop-sequence.js';
import { Exchange, type ExchangeServices } from './exchange.js';
import { HttpTransport } from './http-transport.js';
import { Pipeline } from './pipeline.js';
import { Admission } from '../routing/admission.js';
import type { ForwardSettings } from './headers.js';
import { Backends } from './backends.js';
import type { ReloadCounts, ReloadResult } from './static-backends.js';
import { serversFileOf } from '../support/servers-file.js';
import { loopMark, viaEntry } from './loop-marker.js';
import { HttpErrorCode, sendError } from './http-errors.js';
import { ClientErrors } from './client-errors.js';
import { Counters } from '../routing/counters.js';
import type { Tracer } from '../trace/tracer.js';
import { admit, type AdmissionSettings } from './admission.js';
import { Upgrades } from './upgrades.js';
import type { UpgradeFigures } from './upgrade-counters.js';

/** Answers the requests under the admin prefix; `path` is what follows the prefix, without the query. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean) => void;

export class HttpFrontEnd implements Stoppable {
  readonly name = 'http';
  readonly stats = new Counters('http');
  private readonly backendSide: Backends;
  private readonly services: ExchangeServices;
  /** The HTTP admission (requests and handshakes under --http-max-inflight, open tunnels held): the limit, drain and pages read it. */
  readonly admission: Admission;
  private server: Server | HttpsServer | undefined;
  /** The HTTP port's listening sockets, all handing their connections to `server`. */
  private listeners: ListenGroup | undefined;
  /** Client connections as the HTTP server sees them (TLS sockets once their handshake is done). */
  private readonly connections = new Map<Socket, Pipeline>();
  /** With TLS: the TCP connections under the TLS ones, including those still in their handshake. */
  private readonly tcpSockets = new Set<Socket>();
  private accepting = true;
  private readonly forward: ForwardSettings;
  /** This broker's mark in the Via header of what it proxies (loop-marker.ts). */
  private readonly mark: string;
  private readonly token: SecretCheck | undefined;
  private readonly admitSettings: AdmissionSettings;
  /** Upgrade requests (WebSockets) and their tunnels. */
  readonly upgrades: Upgrades;
  private closing: Promise<void> | undefined;
  private readonly clientErrors: ClientErrors;
  private listenersClosed: Promise<void> | undefined;
  private healthStopped: Promise<void> | undefined;

  constructor(
    private readonly table: PolicyTable,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    private readonly admin: AdminHandler,
    /** The routing trace; its `on` is read per request. */
    readonly trace: Tracer,
    /** Certificate and key (listenerTls()): the listener speaks HTTPS. Undefined: plain HTTP. */
    private readonly tls?: SecureContextOptions,
    /** The broker's interceptors (docs/hooks.md), when it has any. */
    readonly interceptors?: Interceptors,
    /**
     * The table's one writer of members (registry/membership.ts), which applies the servers.conf
     * backends; the composition root then adds `tableObservers` to the table in its order.
     * Absent (a --workers worker, whose table mirrors the primary's): one of its own, and the
     * front end adds its observers itself.
     */
    membership?: Membership,
  ) {
    const upstreamAuthorization = options.upstreamToken === undefined ? undefined : `Bearer ${options.upstreamToken}`;
    this.mark = loopMark();
    this.forward = {
      upstreamAuthorization,
      dropClientAuthorization: options.httpToken !== undefined,
      forwardedProto: tls === undefined ? 'http' : 'https',
      via: viaEntry(this.mark),
      trustForwarded: options.trustForwarded, traceparent: options.traceparent,
    };
    this.clientErrors = new ClientErrors(this.stats, log, options, tls !== undefined);
    this.token = options.httpToken === undefined ? undefined : new SecretCheck(`Bearer ${options.httpToken}`);
    this.admission = new Admission(options.httpMaxInflight);
    this.admitSettings = { options, table, forward: this.forward, mark: this.mark, token: this.token, interceptors };
    const own = membership === undefined;
    membership ??= new Membership(table, { drainMs: options.drainTimeoutMs, log });
    this.backendSide = new Backends(table, options, upstreamAuthorization, this.stats, log, membership, own ? table : undefined);
    this.services = {
      attempts: new AttemptPolicy(table, new HttpTransport(this.stats, trace, this.backendSide.upstreams, this.backendSide.health), options.maxAttempts),
      table,
      upstreams: this.backendSide.upstreams,
      health: this.backendSide.health,
      stats: this.stats,
      timeouts: options,
      trace,
    };
    this.upgrades = new Upgrades({ ...this.services, upgradeIdleMs: options.httpUpgradeIdleTimeoutMs, maxAttempts: options.maxAttempts }, this.admission, log);
  }

  /** What must hear of the table's changes, in order (Backends.tableObservers). */
  get tableObservers(): readonly TableObserver[] {
    return this.backendSide.tableObservers;
  }

  /** Requests being proxied now. */
  get inflight(): number {
    return this.admission.count;
  }

  /** The HTTP backends, registered and static, as the admin pages show them. */
  backends(): Iterable<HttpBackendView> {
    return this.table.endpoints('http');
  }

  /** Upgrade requests and the tunnels (WebSockets) open now. */
  upgradeFigures(): UpgradeFigures {
    return this.upgrades.counters.snapshot();
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Starts listening and checking backends; resolves with the bound address. `sharedPort` is
   * for the --workers workers: the port every worker binds with SO_REUSEPORT, which the
   * primary has claimed.
   */
  async listen(sharedPort?: number): Promise<AddressInfo> {
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
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientErrors.refused(err, socket, this.connections.get(socket as Socket)));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, early: Buffer) => this.onUpgrade(req, socket, early));
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => this.clientErrors.answer(socket, HttpErrorCode.METHOD_NOT_ALLOWED, 'CONNECT is not served: this is a reverse proxy'));
    this.server = server;
    this.listeners = new ListenGroup(server);
    const plan = await listenPlan(o, this.log);
    const port = sharedPort ?? o.httpPort ?? 0;
    await this.listeners.listen({ port, host: o.httpHost ?? o.host, ...plan, shared: sharedPort !== undefined, socketOptions: { noDelay: true } });
    server.on('error', (err) => this.log.error('HTTP listener error', { error: err.message }));
    this.backendSide.health.start();
    const address = server.address() as AddressInfo;
    this.log.info('HTTP front end listening', {
      address: `${address.address}:${address.port}`,
      defaultPolicy: o.httpPolicy,
      staticServers: o.httpServers.length,
      tls: this.tls !== undefined,
      listenSockets: this.listeners.sockets,
    });
    return address;
  }

  /** Re-reads servers.conf (SIGHUP, the runtime API); a bad file keeps the running backends and throws a ServersFileError. */
  reloadServers(): ReloadResult {
    return this.backendSide.statics.reload(serversFileOf(this.options.httpServers));
  }

  /** The reloads of servers.conf so far. */
  get reloads(): ReloadCounts {
    return this.backendSide.statics.reloads;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() ?? undefined) as AddressInfo | undefined;
  }

  /**
   * Stops accepting, lets the requests in flight finish (up to drainMs), then closes every
   * connection and every backend pool: the stop sequence (stop-sequence.ts) for this front end
   * alone, as a --workers worker runs it. Safe to call twice.
   */
  close(drainMs: number): Promise<void> {
    this.closing ??= stopSequence({ fronts: [this], leave: () => undefined, drainMs, log: this.log });
    return this.closing;
  }

  // Stoppable: this front end's part of the stop sequence.

  stopAccepting(): void {
    if (!this.accepting) return;
    this.accepting = false;
    this.listenersClosed = new Promise<void>((resolve) => (this.listeners === undefined ? resolve() : this.listeners.close(() => resolve())));
    this.server?.closeIdleConnections();
    this.healthStopped = this.backendSide.health.stop();
  }

  async closeAll(): Promise<void> {
    this.stopAccepting();
    await this.healthStopped;
    this.upgrades.closeAll();
    this.server?.closeAllConnections();
    for (const socket of this.connections.keys()) socket.destroy();
    for (const socket of this.tcpSockets) socket.destroy();
    await this.backendSide.close();
    await this.listenersClosed;
  }

  // Requests

  private onTcpConnection(socket: Socket): void {
    this.tcpSockets.add(socket);
    socket.once('close', () => this.tcpSockets.delete(socket));
  }

  private onConnection(socket: Socket): void {
    const pipeline = new Pipeline(this.connections.size >= this.options.httpMaxConnections, this.admission);
    this.connections.set(socket, pipeline);
    socket.once('close', () => {
      this.connections.delete(socket);
      pipeline.closed();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.received++;
    const connection = this.connections.get(req.socket as Socket);
    connection?.responded(res);
    const state = { overLimit: connection === undefined || connection.overLimit, accepting: this.accepting, full: this.admission.full, upgrade: false };
    const decision = admit(req, this.admitSettings, state);
    if (decision.kind === 'admin') return this.answerAdmin(req, res, decision.path);
    if (decision.kind === 'refuse') return this.reject(res, decision.code, decision.message, decision.requestId, decision.close);
    const exchange = new Exchange(this.services, connection!, req, res, decision.policy, decision.head, decision.path);
    exchange.hooks = decision.hooks;
    connection!.add(exchange);
  }

  /** An Upgrade request (Connection: upgrade): admitted as a request is, then handed to Upgrades. */
  private onUpgrade(req: IncomingMessage, socket: Duplex, early: Buffer): void {
    this.stats.received++;
    const connection = this.connections.get(socket as Socket);
    // Behind a response still being written, a raw answer would corrupt it: drop the connection.
    if (connection?.busy === true) return void socket.destroy();
    const state = { overLimit: connection === undefined || connection.overLimit, accepting: this.accepting, full: this.admission.full, upgrade: true };
    const decision = admit(req, this.admitSettings, state);
    if (decision.kind === 'admin') return this.upgrades.refuse(socket, HttpErrorCode.NOT_FOUND, 'the broker\'s own pages do not upgrade', undefined);
    if (decision.kind === 'refuse') return this.upgrades.refuse(socket, decision.code, decision.message, decision.requestId);
    this.upgrades.start(req, socket, early, decision);
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
}
