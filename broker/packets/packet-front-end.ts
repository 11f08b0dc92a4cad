/**
 * The packet listener: the port clients and servers connect to, its connections, and the sweep
 * that times out servers, heartbeats and idle peers. Its in-flight owner is its `admission`
 * (routing/admission.ts): every client packet a connection gives the router (or the hooks in
 * front of it) is accepted there and settled by its one answer. The stop sequence
 * (stop-sequence.ts) stops it accepting, waits for the admission to be idle, and closes it.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { BrokerOptions } from '../options.js';
import { Admission } from '../routing/admission.js';
import type { Counters } from '../routing/counters.js';
import type { Stoppable } from '../stop-sequence.js';
import { ListenGroup } from '../support/listen-group.js';
import type { Logger } from '../support/logger.js';
import { listenPlan } from '../support/reuse-port.js';
import type { PacketHooks } from './packet-hooks.js';
import type { PacketRouter } from './packet-router.js';
import { PeerConnection, type PeerSettings } from './peer-connection.js';
import type { Registrar } from './registrar.js';

const SWEEP_MAX_INTERVAL_MS = 250;

export class PacketFrontEnd implements Stoppable {
  readonly name = 'packets';
  private server: Server | undefined;
  /** The packet port's listening sockets, all handing their connections to `server`. */
  private listeners: ListenGroup | undefined;
  private readonly connections = new Set<PeerConnection>();
  /** Client packets accepted and not yet answered, broker-wide: what the drain waits for and the pages show. */
  readonly admission = new Admission();
  private readonly peerSettings: PeerSettings;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    private readonly router: PacketRouter,
    private readonly registrar: Registrar,
    hooks: PacketHooks | undefined,
    stats: Counters,
    /** Certificate and key: the listener speaks TLS. */
    private readonly tls: SecureContextOptions | undefined,
  ) {
    // Packet hooks sit in front of the router: one call in (accept), one out (the answer port).
    this.peerSettings = { router: hooks ?? router, registrar, open: this.connections, stats, maxPacketBytes: options.maxPacketBytes, maxInflight: options.maxClientInflight, admission: this.admission };
  }

  /** Starts listening and sweeping; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    if (this.server !== undefined) throw new Error('broker is already listening');
    const { options, tls } = this;
    const onConnection = (socket: Socket): void => void new PeerConnection(socket, this.peerSettings);
    // node:tls is loaded only with --tls-cert: a plain broker is ~0.7 MiB smaller without it.
    const srv: Server =
      tls === undefined
        ? createServer({ noDelay: true }, onConnection)
        : process.getBuiltinModule('node:tls').createServer({ ...tls, noDelay: true, handshakeTimeout: options.headerTimeoutMs || 120_000 }, onConnection);
    srv.on('tlsClientError', (err: Error) => this.log.debug('TLS handshake failed', { error: err.message }));
    this.server = srv;
    this.listeners = new ListenGroup(srv);
    const plan = await listenPlan(options, this.log);
    await this.listeners.listen({ port: options.port, host: options.host, ...plan, maxConnections: options.maxConnections, socketOptions: { noDelay: true } });
    srv.on('error', (err) => this.log.error('packet listener error', { error: err.message }));
    const interval = Math.min(SWEEP_MAX_INTERVAL_MS, Math.max(10, Math.floor(options.serverTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), interval);
    this.sweepTimer.unref();
    return srv.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() ?? undefined) as AddressInfo | undefined;
  }

  /** How many listening sockets share the port (SO_REUSEPORT). */
  get sockets(): number {
    return this.listeners?.sockets ?? 0;
  }

  /** Stops listening after a start that failed later (the HTTP front end did not start). */
  abandon(): void {
    clearInterval(this.sweepTimer);
    this.listeners?.close();
  }

  // Stoppable


  stopAccepting(): void {
    // Existing connections are still answered; their new packets get UNAVAILABLE.
    this.listeners?.close();
    this.router.accepting = false;
  }

  async closeAll(): Promise<void> {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.router.closeAll();
    for (const conn of this.connections) conn.end();
    // Give the final answers a moment to flush before tearing down what is left.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const conn of this.connections) conn.socket.destroy();
    const listeners = this.listeners;
    if (listeners !== undefined) await new Promise<void>((resolve) => listeners.close(() => resolve()));
  }

  private sweep(): void {
    const now = Date.now();
    this.router.sweepTimeouts(now);
    this.registrar.sweepHeartbeats(now);
    for (const conn of this.connections) conn.sweep(now, this.options.headerTimeoutMs, this.options.idleTimeoutMs);
  }
}
