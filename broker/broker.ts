/**
 * createBroker(), the one composition root: the registry store, the policy table that follows
 * it, the counters, the packet router and registrar, the packet listener, and with httpPort the
 * HTTP front end and admin pages, wired together as a library that tests and other programs can
 * embed. The CLI (main.ts) is a thin shell around it; the --workers primary builds on it.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { AdminPages } from './admin/pages.js';
import type { StatusSources } from './admin/status.js';
import type { HttpFrontEnd } from './http/http-front-end.js';
import { resolveBrokerOptions, type BrokerOptions } from './options.js';
import { Interceptors } from './hooks/interceptors.js';
import { PacketHooks } from './packets/packet-hooks.js';
import { PacketRouter } from './packets/packet-router.js';
import { PeerConnection, type PeerSettings } from './packets/peer-connection.js';
import { Registrar } from './packets/registrar.js';
import { Membership } from './registry/membership.js';
import { MemoryStore } from './registry/memory-store.js';
import { RedisStore } from './registry/redis-store.js';
import { parseRegistryUrl } from './registry/registry-url.js';
import type { RedisConnection } from './registry/redis-connection.js';
import type { SentinelConnection } from './registry/sentinel-connection.js';
import { brokerId } from './registry/broker-id.js';
import type { RegistryStore } from './registry/store.js';
import { PolicyTable, type TableObserver } from './routing/policy-table.js';
import { Counters } from './routing/counters.js';
import { ListenGroup } from './support/listen-group.js';
import { listenPlan } from './support/reuse-port.js';
import { checkBackendCa, listenerTls } from './support/tls-files.js';
import { isLoopbackAddress } from './support/address-list.js';
import { ServersFileError } from './support/servers-file.js';
import type { ReloadResult } from './http/static-backends.js';
import { waitUntil } from './support/wait-until.js';
import { Tracer } from './trace/tracer.js';

export interface Broker {
  readonly options: BrokerOptions;
  /** Where registrations are kept; the table follows it. */
  readonly store: RegistryStore;
  /** Every server by policy: what routing reads. */
  readonly table: PolicyTable;
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

const SWEEP_MAX_INTERVAL_MS = 250;

export function createBroker(input: Partial<BrokerOptions> = {}): Broker {
  const options = resolveBrokerOptions(input);
  const log = options.logger;
  const tls = listenerTls(options);
  checkBackendCa(options);
  const id = brokerId();
  // With --registry the servers are shared through Redis (connected by listen()); else in memory.
  const shared = options.registry === undefined ? undefined : new RedisStore({
    prefix: options.registryPrefix,
    brokerId: id,
    resyncMs: options.registryResyncMs,
    logger: log,
    describe: () => ({ packet: addressText(server?.address()), http: addressText(http?.address()), startedAt }),
  });
  const store: RegistryStore = shared ?? new MemoryStore();
  const table = new PolicyTable(options.algorithm);
  // A session server whose record expired (its broker died) stays as long again while its link
  // is up: it is registering through another broker, and then keeps its link (membership.ts).
  const expiryGraceMs = shared === undefined ? 0 : Math.max(options.heartbeatMs * options.heartbeatMisses, 2 * options.registryResyncMs);
  const membership = new Membership(table, { expiryGraceMs, drainMs: options.drainTimeoutMs, log });
  // Its watch first: the registrar's (which tells sessions why they left) sees the table changed already.
  const unfollow = membership.follow(store);
  const stats = new Counters('packets');
  const trace = new Tracer(log, { on: options.trace, sample: options.traceSample });
  const router = new PacketRouter(table, membership, options, stats, log, trace);
  const interceptors = options.interceptors.length > 0 ? new Interceptors(options.interceptors, log) : undefined;
  // Packet hooks sit in front of the router: one call in (accept), one out (the answer port).
  const packetHooks = interceptors?.hasPackets === true ? new PacketHooks(interceptors, (client, packet) => router.accept(client, packet), log) : undefined;
  let server: Server | undefined;
  /** The packet port's listening sockets, all handing their connections to `server`. */
  let listeners: ListenGroup | undefined;
  // Listeners of this broker that run elsewhere (the HTTP workers of --workers), for the registration guard.
  const otherListeners: Array<() => AddressInfo | undefined> = [];
  const ownListeners = (): Array<AddressInfo | undefined> => [
    server?.address() as AddressInfo | undefined,
    http?.address(),
    ...otherListeners.map((listener) => listener()),
  ];
  const registrar = new Registrar(store, table, router, options, log, ownListeners, id);
  observeTable(table, [membership, stats, router, registrar.sourceCounts]);
  const connections = new Set<PeerConnection>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const startedAt = Date.now();
  // The HTTP front end and the admin pages are loaded by listen(), only with --http-port: with
  // undici, prom-client and the dashboard they cost ~20 MiB that a packet-only broker need not pay.
  let http: HttpFrontEnd | undefined;
  let admin: AdminPages | undefined;
  const statusSources: StatusSources = {
    table,
    stats,
    http: undefined,
    startedAt,
    packetOutstanding: () => router.outstanding,
    packetAddress: () => server?.address() as AddressInfo | undefined,
    stopping: () => closing !== undefined,
    ...(interceptors !== undefined && { hooks: () => interceptors.counters.snapshot() }),
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
            primary: registryConnection?.primary() ?? null,
            brokers: shared.brokers(),
          },
  };

  const peerSettings: PeerSettings = { router: packetHooks ?? router, registrar, open: connections, stats, maxPacketBytes: options.maxPacketBytes, maxInflight: options.maxClientInflight };

  let registryConnection: RedisConnection | SentinelConnection | undefined;

  /** Connects to Redis (the client is loaded only with --registry) and loads the shared view. */
  async function connectRegistry(redisStore: RedisStore): Promise<void> {
    const url = parseRegistryUrl(options.registry!);
    const settings = { connectTimeoutMs: options.registryWaitMs, commandTimeoutMs: Math.max(250, options.registryResyncMs), logger: log, name: `policy-broker/${id}` };
    let connection: RedisConnection | SentinelConnection;
    if (url.sentinel === undefined) {
      const { RedisConnection } = await import('./registry/redis-connection.js');
      connection = await RedisConnection.open(url, settings);
    } else {
      const { SentinelConnection } = await import('./registry/sentinel-connection.js');
      const sentinel = await SentinelConnection.open(url, settings);
      // A promoted replica may lack the last writes the old primary acknowledged: write back now.
      sentinel.onPrimaryChange = () => void redisStore.resync();
      connection = sentinel;
    }
    registryConnection = connection;
    await redisStore.start(connection);
    log.info('shared registry connected', { url: url.display, prefix: options.registryPrefix, brokerId: id, servers: (await redisStore.list()).length });
  }

  function onConnection(socket: Socket): void {
    new PeerConnection(socket, peerSettings);
  }

  function sweep(): void {
    const now = Date.now();
    router.sweepTimeouts(now);
    registrar.sweepHeartbeats(now);
    for (const conn of connections) conn.sweep(now, options.headerTimeoutMs, options.idleTimeoutMs);
  }

  async function listen(): Promise<AddressInfo> {
    if (server !== undefined) throw new Error('broker is already listening');
    if (shared !== undefined) await connectRegistry(shared);
    // node:tls is loaded only with --tls-cert: a plain broker is ~0.7 MiB smaller without it.
    const srv: Server =
      tls === undefined
        ? createServer({ noDelay: true }, onConnection)
        : process.getBuiltinModule('node:tls').createServer({ ...tls, noDelay: true, handshakeTimeout: options.headerTimeoutMs || 120_000 }, onConnection);
    srv.on('tlsClientError', (err: Error) => log.debug('TLS handshake failed', { error: err.message }));
    server = srv;
    listeners = new ListenGroup(srv);
    const plan = await listenPlan(options, log);
    await listeners.listen({ port: options.port, host: options.host, ...plan, maxConnections: options.maxConnections, socketOptions: { noDelay: true } });
    srv.on('error', (err) => log.error('packet listener error', { error: err.message }));
    const interval = Math.min(SWEEP_MAX_INTERVAL_MS, Math.max(10, Math.floor(options.serverTimeoutMs / 4)));
    sweepTimer = setInterval(sweep, interval);
    sweepTimer.unref();
    const address = srv.address() as AddressInfo;
    log.info('broker listening', { address: `${address.address}:${address.port}`, algorithm: options.algorithm, listenSockets: listeners.sockets });
    const registration = { mode: registrar.guard.mode, who: registrar.guard.describe() };
    if (registrar.guard.mode === 'open') log.warn('registration mode', registration);
    else log.info('registration mode', registration);
    if (options.httpPort !== undefined) {
      try {
        const [{ HttpFrontEnd }, { AdminPages }, { RuntimeApi }] = await Promise.all([import('./http/http-front-end.js'), import('./admin/pages.js'), import('./admin/runtime-api.js')]);
        const api = new RuntimeApi({
          table,
          membership,
          log,
          writeToken: options.adminToken ?? options.httpToken,
          loopbackOnly: isLoopbackAddress(options.host) && isLoopbackAddress(options.httpHost ?? options.host),
          reload: () => http!.reloadServers(),
        });
        const pages = new AdminPages(statusSources, trace, api);
        admin = pages;
        http = new HttpFrontEnd(table, options, log, (req, res, path, authorized) => pages.handle(req, res, path, authorized), trace, tls, interceptors, membership);
        statusSources.http = http;
        observeTable(table, http.tableObservers);
        await http.listen();
        pages.start();
      } catch (err) {
        clearInterval(sweepTimer);
        listeners.close();
        throw err;
      }
    }
    return address;
  }

  /** Answers the packets in flight, then removes every server once `httpDone` (the HTTP drain) is over as well. */
  async function drain(httpDone: Promise<void> | undefined): Promise<void> {
    router.accepting = false;
    if (!(await waitUntil(() => router.outstanding + (packetHooks?.pending ?? 0) === 0, options.drainTimeoutMs))) {
      log.warn('drain timed out; answering the rest with UNAVAILABLE', { outstanding: router.outstanding + (packetHooks?.pending ?? 0) });
    }
    // The HTTP front end shares the table: removing the servers sooner would take their
    // backends from the requests it drains, and one whose backend fails could not be retried.
    await httpDone;
    if (sweepTimer !== undefined) clearInterval(sweepTimer);
    if (shared === undefined) {
      for (const member of [...table.members()]) if (member.packets !== undefined) router.removeServer(member, 'broker shutting down');
    } else {
      // The servers stay registered for the other brokers: a session server re-registers with
      // one of them when its session here closes, a classic one stays listed. Only this
      // broker's view goes.
      unfollow();
      membership.clear();
      await shared.close();
      await registryConnection?.close();
    }
    router.closeAll();
    for (const conn of connections) conn.end();
    // Give the final answers a moment to flush before tearing down what is left.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const conn of connections) conn.socket.destroy();
    if (listeners !== undefined) await new Promise<void>((resolve) => listeners!.close(() => resolve()));
    log.info('broker stopped');
  }

  return {
    options,
    store,
    table,
    stats,
    router,
    interceptors,
    registrar,
    trace,
    sources: statusSources,
    listen,
    get http() {
      return http;
    },
    address: () => server?.address() as AddressInfo | undefined,
    httpAddress: () => http?.address(),
    alsoListening: (address) => otherListeners.push(address),
    reload() {
      if (http === undefined) throw new ServersFileError('this broker has no HTTP front end: there is no servers.conf to reload');
      return http.reloadServers();
    },
    close() {
      closing ??= (async () => {
        admin?.stop();
        // Stop accepting first; existing connections are still answered.
        listeners?.close();
        await drain(http?.close(options.drainTimeoutMs));
      })();
      return closing;
    },
  };
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

