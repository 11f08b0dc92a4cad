/**
 * One packet server: a TCP listener the broker dials, plus a session with the broker. It
 * listens first and only then registers, so the broker never dials a port that is not there.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServedConnection } from './connection.js';
import { STOPPED, ServerError } from './errors.js';
import { WhoamiHttpServer } from './http-server.js';
import { resolveServerOptions, SERVER_DEFAULTS, type PacketServerOptions, type ResolvedServerOptions } from './options.js';
import type { RegistrationPacket } from '../broker/protocol/packet-types.js';
import { BrokerSession, type SessionEvents } from './session.js';

/** How often stop() checks whether the in-flight packets have been answered. */
const DRAIN_POLL_MS = 10;

export type PacketServerEvents = SessionEvents;

export class PacketServer extends EventEmitter<PacketServerEvents> {
  /** The server's id. */
  readonly id: number;
  /** The policy it serves. */
  readonly policy: number;
  private readonly settings: ResolvedServerOptions;
  private readonly connections = new Set<ServedConnection>();
  private listener: net.Server | null = null;
  private httpServer: WhoamiHttpServer | null = null;
  private session: BrokerSession | null = null;
  private answered = 0;
  private stopping: Promise<void> | null = null;

  /** Checks the options (throws a RangeError naming a bad one); start() does the rest. */
  constructor(options: PacketServerOptions) {
    super();
    this.settings = resolveServerOptions(options);
    this.id = this.settings.id;
    this.policy = this.settings.policy;
  }

  /** The port it listens on; 0 until start() has bound it. */
  get port(): number {
    const address = this.listener?.address();
    return address !== null && typeof address === 'object' ? address.port : 0;
  }

  /** The HTTP port declared at registration: the one served with `http`, else the one given; undefined without. */
  get httpPort(): number | undefined {
    return this.httpServer?.port ?? (this.settings.http ? undefined : this.settings.httpPort);
  }

  /** HTTP requests answered so far (with `http`). */
  get httpServed(): number {
    return this.httpServer?.served ?? 0;
  }

  /** Packets answered so far, over all connections. */
  get served(): number {
    return this.answered;
  }

  /** Packets received and not yet answered. */
  get inflight(): number {
    let n = 0;
    for (const connection of this.connections) n += connection.inflight;
    return n;
  }

  /** True while the broker holds this server's registration. */
  get registered(): boolean {
    return this.session?.registered ?? false;
  }

  /**
   * Listens, then registers. Resolves once registered, however long an unreachable broker takes;
   * rejects when listening fails, when the broker refuses (a ServerError with its code, e.g.
   * UNAUTHORIZED or DUPLICATE_ID), or with code STOPPED when stop() is called first.
   */
  async start(): Promise<void> {
    if (this.listener !== null || this.stopping !== null) throw new Error('a server can be started once');
    const tlsContext = this.settings.tls;
    const listener: net.Server =
      tlsContext === undefined ? net.createServer((socket) => this.accept(socket)) : tls.createServer(tlsContext, (socket) => this.accept(socket));
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.settings.port, this.settings.listenHost, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (err) => this.settings.logger.error('listener error', { id: this.id, error: err.message }));
    if (this.settings.http && this.stopping === null) {
      const httpServer = new WhoamiHttpServer({ serverId: this.id, policy: this.policy, logger: this.settings.logger });
      this.httpServer = httpServer;
      try {
        await httpServer.listen(this.settings.httpPort ?? 0, this.settings.listenHost);
      } catch (err) {
        this.httpServer = null;
        listener.close();
        throw err;
      }
    }
    if (this.stopping !== null) {
      // stop() came while the port was being bound; it found nothing to close yet.
      listener.close();
      await this.httpServer?.close(0);
      throw new ServerError(STOPPED, 'the server was stopped before it registered');
    }
    this.session = new BrokerSession(this.registrationPacket(), {
      brokers: [this.settings.broker, ...this.settings.brokers],
      localAddress: registrationAddress(this.settings.listenHost, this.settings.broker.host),
      tls: this.settings.brokerTls,
      reconnectMinMs: this.settings.reconnectMinMs,
      reconnectMaxMs: this.settings.reconnectMaxMs,
      registerTimeoutMs: this.settings.registerTimeoutMs,
      silenceMs: this.settings.brokerSilenceMs,
      defaultHeartbeatMs: SERVER_DEFAULTS.heartbeatMs,
      maxLineLength: this.settings.maxLineLength,
      logger: this.settings.logger,
    });
    this.session.on('registered', (info) => this.emit('registered', info));
    this.session.on('lost', () => this.emit('lost'));
    try {
      await this.session.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Leaves the broker, stops reconnecting, waits (up to drainTimeoutMs) for in-flight packets to
   * be answered, then closes the session, the listener and every connection. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    const session = this.session;
    const wasRegistered = session?.registered ?? false;
    session?.leave();
    if (wasRegistered) {
      // Packets the broker sent before it read the leave are still on their way: give them a moment.
      await sleep(2 * DRAIN_POLL_MS);
    }
    const deadline = Date.now() + this.settings.drainTimeoutMs;
    while (this.inflight > 0 && Date.now() < deadline) await sleep(DRAIN_POLL_MS);
    if (this.inflight > 0) this.settings.logger.warn('stopping with packets unanswered', { id: this.id, inflight: this.inflight });
    await session?.close();
    await this.closeListener();
    await this.httpServer?.close(Math.max(0, deadline - Date.now()));
    this.settings.logger.debug('server stopped', { id: this.id, served: this.answered });
  }

  private closeListener(): Promise<void> {
    const listener = this.listener;
    if (listener === null || !listener.listening) return Promise.resolve();
    return new Promise((resolve) => {
      listener.close(() => resolve());
      for (const connection of this.connections) connection.close();
    });
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const connection = new ServedConnection(socket, {
      serverId: this.id,
      handler: this.settings.handler,
      delayMs: this.settings.delayMs,
      maxInflight: this.settings.maxInflight,
      maxLineLength: this.settings.maxLineLength,
      logger: this.settings.logger,
      onAnswered: this.countAnswer,
    });
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
    this.settings.logger.debug('broker connected', { id: this.id, from: `${socket.remoteAddress}:${socket.remotePort}` });
  }

  private readonly countAnswer = (): void => {
    this.answered++;
  };

  private registrationPacket(): RegistrationPacket {
    const packet: RegistrationPacket = {
      type: 1,
      id: this.id,
      privPolyId: this.policy,
      listenport: this.port,
      maxInflight: this.settings.maxInflight,
      session: true,
    };
    if (this.settings.secret !== undefined) packet.secret = this.settings.secret;
    if (this.settings.weight !== undefined) packet.weight = this.settings.weight;
    if (this.settings.tls !== undefined) packet.tls = true;
    const httpPort = this.httpPort;
    if (httpPort !== undefined) packet.httpport = httpPort;
    return packet;
  }
}

/**
 * The local address to register from: the listen address when it is one specific IP, so the
 * broker dials back where the server listens; none for a wildcard or a host name, or when the
 * broker is an IP of the other family.
 */
function registrationAddress(listenHost: string, brokerHost: string): string | undefined {
  const family = net.isIP(listenHost);
  if (family === 0 || listenHost === '0.0.0.0' || listenHost === '::') return undefined;
  const brokerFamily = net.isIP(brokerHost);
  return brokerFamily !== 0 && brokerFamily !== family ? undefined : listenHost;
}
