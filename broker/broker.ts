/**
 * createBroker(), the one composition root: the registry store, the membership that writes the
 * policy table from it, the counters, the packet router and registrar, the packet front end, and
 * with httpPort the HTTP front end and admin pages, wired together (the table's observers in one
 * ordered list, observeTable) as a library that tests and other programs can embed. The CLI
 * (main.ts) is a thin shell around it; the --workers primary builds on it. Stopping is the one
 * stop sequence (stop-sequence.ts).
 */
import type { AddressInfo } from 'node:net';
import type { StatusSources } from './admin/status.js';
import type { HttpFrontEnd } from './http/http-front-end.js';
import { resolveBrokerOptions, type BrokerOptions } from './options.js';
import { Interceptors } from './hooks/interceptors.js';
import { PacketHooks } from './packets/packet-hooks.js';
import { PacketRouter } from './packets/packet-router.js';
import { PacketFrontEnd } from './packets/packet-front-end.js';
import { Registrar } from './packets/registrar.js';
import { expiryGraceMs, Membership } from './registry/membership.js';
import { MemoryStore } from './registry/memory-store.js';
import { RedisStore } from './registry/redis-store.js';
import { parseRegistryUrl } from './registry/registry-url.js';
import { connectRegistry, type RegistryConnectionHandle } from './registry/connect-registry.js';
import { brokerId } from './registry/broker-id.js';
import type { RegistryStore } from './registry/store.js';
import { PolicyTable, type TableObserver } from './routing/policy-table.js';
import { Counters } from './routing/counters.js';
import { checkBackendCa, listenerTls } from './support/tls-files.js';
import { ServersFileError } from './support/servers-file.js';
import type { ReloadResult } from './http/static-backends.js';
import { stopSequence } from './stop-sequence.js';
import { Tracer } from './trace/tracer.js';

export interface Broker {
  readonly options: BrokerOptions;
  /** Where registrations are kept; the table follows it. */
  readonly store: RegistryStore;
  /** Every server by policy: what routing reads. */
  readonly table: PolicyTable;
  /** The table's one writer: applies the store's events and servers.conf; leave, drain and operator changes go through it. */
  readonly membership: Membership;
  readonly stats: Counters;
  readonly router: PacketRouter;
  /** The interceptors (docs/hooks.md) and their counters; undefined without any. */
  readonly interceptors: Interceptors | undefined;
  readonly registrar: Registrar;
  /** The routing trace (--trace), switchable at run time. */
  readonly trace: Tracer;
  /** What the admin pages read of this broker (the --workers primary gives them its merged HTTP view). */
  readonly sources: StatusSources;
  /** The HTTP front end, once listen() has started it (only when options.httpPort is set). */
  readonly http: HttpFrontEnd | undefined;
  /**
   * Starts listening (packets, and HTTP when httpPort is set); resolves with the packet
   * listener's bound address (useful with port 0). The HTTP one is httpAddress().
   */
  listen(): Promise<AddressInfo>;
  /** The packet listener's address once listening. */
  address(): AddressInfo | undefined;
  /** The HTTP listener's address once listening; undefined without HTTP. */
  httpAddress(): AddressInfo | undefined;
  /**
   * Re-reads servers.conf (SIGHUP): added backends join, removed ones drain, unchanged ones keep
   * their connections, counters and health. A bad file changes nothing and throws (ServersFileError).
   */
  reload(): ReloadResult;
  /** Adds a listening socket of this broker kept elsewhere (the HTTP workers' shared port), which registrations may not name. */
  alsoListening(address: () => AddressInfo | undefined): void;
  /**
   * Stops accepting, answers what is in flight (up to drainTimeoutMs; the rest get UNAVAILABLE),
   * then closes every connection.
   */
  close(): Promise<void>;
}

/** Builds a broker from its options (every default and check: options.ts); listen() starts it. */
export function createBroker(input: Partial<BrokerOptions> = {}): Broker {
  return new BrokerInstance(resolveBrokerOptions(input));
}

class BrokerInstance implements Broker {
  readonly store: RegistryStore;
  readonly table: PolicyTable;
  readonly stats = new Counters('packets');
  readonly router: PacketRouter;
  readonly interceptors: Interceptors | undefined;
  readonly registrar: Registrar;
  readonly trace: Tracer;
  readonly sources: StatusSources;
  /** With --registry: the shared store (connected by listen()); else undefined (the store is in memory). */
  private readonly shared: RedisStore | undefined;
  readonly membership: Membership;
  private readonly unfollow: () => void;
  private readonly packets: PacketFrontEnd;
  private readonly id = brokerId();
  private readonly startedAt = Date.now();
  // The HTTP front end and the admin pages are loaded by listen(), only with --http-port: with
  // undici, prom-client and the dashboard they cost ~20 MiB that a packet-only broker need not pay.
  private httpFront: HttpFrontEnd | undefined;
  private stopAdmin: (() => void) | undefined;
  /** Listeners of this broker that run elsewhere (the HTTP workers of --workers), for the registration guard. */
  private readonly otherListeners: Array<() => AddressInfo | undefined> = [];
  private registryConnection: RegistryConnectionHandle | undefined;
  private closing: Promise<void> | undefined;

  constructor(readonly options: BrokerOptions) {
    const log = options.logger;
    checkBackendCa(options);
    this.shared = options.registry === undefined ? undefined : new RedisStore({
      prefix: options.registryPrefix,
      brokerId: this.id,
      resyncMs: options.registryResyncMs,
      logger: log,
      describe: () => ({ packet: addressText(this.packets.address()), http: addressText(this.httpFront?.address()), startedAt: this.startedAt }),
    });
    this.store = this.shared ?? new MemoryStore();
    this.table = new PolicyTable(options.algorithm);
    // A session server whose record expired (its broker died) stays as long again while its link
    // is up: it is registering through another broker, and then keeps its link (membership.ts).
    const graceMs = expiryGraceMs({ shared: this.shared !== undefined, heartbeatMs: options.heartbeatMs, heartbeatMisses: options.heartbeatMisses, resyncMs: options.registryResyncMs });
    this.membership = new Membership(this.table, { expiryGraceMs: graceMs, drainMs: options.drainTimeoutMs, log });
    // Its watch first: the registrar's (which tells sessions why they left) sees the table changed already.
    this.unfollow = this.membership.follow(this.store);
    this.trace = new Tracer(log, { on: options.trace, sample: options.traceSample });
    this.router = new PacketRouter(this.table, this.membership, options, this.stats, log, this.trace);
    this.interceptors = options.interceptors.length > 0 ? new Interceptors(options.interceptors, log) : undefined;
    const router = this.router;
    const packetHooks = this.interceptors?.hasPackets === true ? new PacketHooks(this.interceptors, (client, packet) => router.accept(client, packet), log) : undefined;
    const ownListeners = (): Array<AddressInfo | undefined> => [this.packets.address(), this.httpFront?.address(), ...this.otherListeners.map((listener) => listener())];
    this.registrar = new Registrar(this.store, this.table, router, options, log, ownListeners, this.id);
    observeTable(this.table, [this.membership, this.stats, router, this.registrar.sourceCounts]);
    this.packets = new PacketFrontEnd(options, log, router, this.registrar, packetHooks, this.stats, listenerTls(options));
    this.sources = this.statusSources();
  }

  get http(): HttpFrontEnd | undefined {
    return this.httpFront;
  }

  async listen(): Promise<AddressInfo> {
    const { options } = this;
    const log = options.logger;
    if (this.packets.address() !== undefined) throw new Error('broker is already listening');
    if (this.shared !== undefined) this.registryConnection = await connectRegistry(this.shared, options, this.id);
    const address = await this.packets.listen();
    log.info('broker listening', { address: `${address.address}:${address.port}`, algorithm: options.algorithm, listenSockets: this.packets.sockets });
    const registration = { mode: this.registrar.guard.mode, who: this.registrar.guard.describe() };
    if (this.registrar.guard.mode === 'open') log.warn('registration mode', registration);
    else log.info('registration mode', registration);
    if (options.httpPort !== undefined) {
      try {
        await this.startHttp();
      } catch (err) {
        this.packets.abandon();
        throw err;
      }
    }
    return address;
  }

  address(): AddressInfo | undefined {
    return this.packets.address();
  }

  httpAddress(): AddressInfo | undefined {
    return this.httpFront?.address();
  }

  alsoListening(address: () => AddressInfo | undefined): void {
    this.otherListeners.push(address);
  }

  reload(): ReloadResult {
    if (this.httpFront === undefined) throw new ServersFileError('this broker has no HTTP front end: there is no servers.conf to reload');
    return this.httpFront.reloadServers();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopAdmin?.();
      await stopSequence({
        fronts: this.httpFront === undefined ? [this.packets] : [this.packets, this.httpFront],
        leave: () => this.leaveRegistry(),
        drainMs: this.options.drainTimeoutMs,
        log: this.options.logger,
      });
      this.options.logger.info('broker stopped');
    })();
    return this.closing;
  }

  /** The HTTP front end, the runtime API and the admin pages (loaded now: see httpFront). */
  private async startHttp(): Promise<void> {
    const { options, table, membership } = this;
    const { startHttp } = await import('./http-composition.js');
    const half = await startHttp({
      table,
      options,
      log: options.logger,
      trace: this.trace,
      tls: listenerTls(options),
      interceptors: this.interceptors,
      admin: { kind: 'local', sources: this.sources },
      membership,
      // The front end's observers join the table's ordered list before it listens (static backends join then).
      beforeListen: (front) => observeTable(table, front.tableObservers),
    });
    this.httpFront = half.front;
    this.stopAdmin = half.stopAdmin;
  }

  /** Step 3 of the stop sequence: this broker's servers leave; with a shared registry, only its view. */
  private async leaveRegistry(): Promise<void> {
    if (this.shared === undefined) {
      for (const member of [...this.table.members()]) if (member.packets !== undefined) this.router.removeServer(member, 'broker shutting down');
      return;
    }
    // The servers stay registered for the other brokers: a session server re-registers with
    // one of them when its session here closes, a classic one stays listed.
    this.unfollow();
    this.membership.clear();
    await this.shared.close();
    await this.registryConnection?.close();
  }

  private statusSources(): StatusSources {
    const { options, shared, id } = this;
    return {
      table: this.table,
      stats: this.stats,
      http: undefined,
      startedAt: this.startedAt,
      packetOutstanding: () => this.packets.admission.count,
      packetAddress: () => this.packets.address(),
      stopping: () => this.closing !== undefined,
      ...(this.interceptors !== undefined && { hooks: () => this.interceptors!.counters.snapshot() }),
      registry: () =>
        shared === undefined
          ? { kind: 'memory', brokerId: id }
          : {
              kind: 'redis',
              brokerId: id,
              url: parseRegistryUrl(options.registry!).display,
              prefix: options.registryPrefix,
              degraded: shared.degraded,
              degradedSince: shared.degradedSinceMs ?? null,
              pendingWrites: shared.pendingWrites,
              primary: this.registryConnection?.primary() ?? null,
              brokers: shared.brokers(),
            },
    };
  }
}

/**
 * The table's observers, added from here only, in the order they react to each change
 * (docs/architecture.md, "The table's observers"):
 *   1. membership: a held member (expired record) that is removed or renewed leaves its hold;
 *   2. the packet counters: per-policy and per-server counts follow the table (and outlive removed servers);
 *   3. the packet router: a new member's link is dialed, a removed one's link fails and its jobs move;
 *   4. the registrar's count of servers per source (--max-servers-per-source);
 *   then, once the HTTP front end starts, its own list (http/backends.ts `tableObservers`):
 *   5. the upstream pools, 6. the HTTP counters, 7. the health checks (and their liveness
 *   streaks), 8. the HTTP backends' log lines. The --workers primary adds its broadcaster last.
 */
function observeTable(table: PolicyTable, observers: readonly TableObserver[]): void {
  table.observeInOrder(observers);
}

function addressText(address: AddressInfo | string | null | undefined): string | null {
  if (address === undefined || address === null || typeof address === 'string') return null;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

