/**
 * One address served through several listening sockets (SO_REUSEPORT), so that a burst of new
 * connections is accepted at the rate it arrives.
 *
 * Why: since libuv 1.45 (Node 20 and later) a listening socket accepts one connection per turn
 * of the event loop. A broker whose loop is busy serving requests then takes on only tens of new
 * connections a second, and the rest of a burst waits in the kernel's queue, or overflows it.
 * With N sockets on the port the kernel spreads new connections over N queues and each turn
 * accepts up to N (nginx's `listen ... reuseport` does the same across worker processes).
 *
 * The one `server` (node:http, node:https, node:tls or node:net) listens itself; the other
 * sockets are plain net listeners that hand what they accept to it with
 * `server.emit('connection', socket)`, the documented way to give a server a connection, so
 * that every connection is served by the same server, whichever socket accepted it.
 *
 * A second program binding the same port must still fail with EADDRINUSE, as it would without
 * SO_REUSEPORT (two brokers started on one port by mistake would otherwise split the traffic
 * silently): before binding with SO_REUSEPORT the port is claimed once without it.
 */
import { createServer, type AddressInfo, type ListenOptions, type Server, type Socket } from 'node:net';

export interface ListenSettings {
  port: number;
  host: string | undefined;
  /** Pending connections the kernel queues per socket (capped by net.core.somaxconn). */
  backlog: number;
  /** Listening sockets on the port; 1 = one socket and no SO_REUSEPORT. */
  sockets: number;
  /** Whether the runtime supports SO_REUSEPORT (reuse-port.ts); without it one socket is used. */
  reusePort: boolean;
  /**
   * Other processes of this program bind the same port with SO_REUSEPORT (the HTTP workers of
   * --workers): the port is not claimed first, as the others already hold it.
   */
  shared?: boolean;
  /** Open connections at once over every socket; past it new ones are closed at once. */
  maxConnections?: number;
  /** net.Server options the extra sockets need to treat a socket as the server would (noDelay…). */
  socketOptions?: { noDelay?: boolean; keepAlive?: boolean };
}

type ReuseListenOptions = ListenOptions & { reusePort?: boolean };

export class ListenGroup {
  private readonly extras: Server[] = [];
  /** Connections handed over by the extra sockets and still open. */
  private extraOpen = 0;
  /** Connections the server accepted on its own socket and still open. */
  private ownOpen = 0;
  private readonly handedOver = new WeakSet<Socket>();
  private maxConnections = Infinity;

  constructor(private readonly server: Server) {}

  /** Listening sockets bound (0 before listen()). */
  get sockets(): number {
    return this.server.listening ? 1 + this.extras.length : 0;
  }

  /** Binds every socket; resolves with the address once all of them listen. */
  async listen(settings: ListenSettings): Promise<AddressInfo> {
    const many = settings.reusePort && settings.sockets > 1;
    this.limit(settings.maxConnections);
    let port = settings.port;
    if (many && settings.shared !== true) port = await claimPort(settings.port, settings.host);
    const options: ReuseListenOptions = { port, host: settings.host, backlog: settings.backlog, ...(many && { reusePort: true }) };
    await listenOn(this.server, options);
    if (!many) return this.server.address() as AddressInfo;
    port = (this.server.address() as AddressInfo).port;
    try {
      for (let i = 1; i < settings.sockets; i++) {
        const extra = createServer({ ...settings.socketOptions }, (socket) => this.handOver(socket));
        await listenOn(extra, { ...options, port });
        this.extras.push(extra);
      }
    } catch (err) {
      this.close();
      throw err;
    }
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting on every socket (the server's own included); open connections stay. */
  close(callback?: () => void): void {
    for (const extra of this.extras.splice(0)) extra.close();
    if (this.server.listening) this.server.close(() => callback?.());
    else callback?.();
  }

  private limit(max: number | undefined): void {
    if (max === undefined) return;
    this.maxConnections = max;
    // The server's own check counts only what its own socket accepted: keep it at what the
    // extra sockets leave of the limit.
    this.server.maxConnections = max;
    this.server.prependListener('connection', (socket: Socket) => {
      if (this.handedOver.has(socket)) return;
      this.ownOpen++;
      socket.once('close', () => this.ownOpen--);
    });
  }

  private handOver(socket: Socket): void {
    if (this.ownOpen + this.extraOpen >= this.maxConnections) {
      socket.destroy();
      return;
    }
    if (this.maxConnections !== Infinity) {
      this.handedOver.add(socket);
      this.extraOpen++;
      this.server.maxConnections = this.maxConnections - this.extraOpen;
      socket.once('close', () => {
        this.extraOpen--;
        this.server.maxConnections = this.maxConnections - this.extraOpen;
      });
    }
    this.server.emit('connection', socket);
  }
}

/**
 * Binds the port once without SO_REUSEPORT and lets it go: fails with EADDRINUSE as a plain
 * listen would when anything listens there, and turns port 0 into a free port.
 */
export async function claimPort(port: number, host: string | undefined): Promise<number> {
  const probe = createServer();
  // exclusive: never node:cluster's shared socket (in a worker it would be the live port's).
  await listenOn(probe, { port, host, exclusive: true });
  const claimed = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return claimed;
}

function listenOn(server: Server, options: ReuseListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
