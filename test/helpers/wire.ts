/**
 * Raw NDJSON peers for tests that need to control every byte: a client socket that reads lines,
 * and fake servers that register and answer however a test wants.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP connection that collects what it receives, framed as lines or as classic objects. */
export class RawPeer {
  private readonly waiters: Array<() => void> = [];
  readonly received: string[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    readLines(socket, (line) => {
      const trimmed = line.trim();
      if (trimmed.length === 0) return;
      this.received.push(trimmed);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects to 127.0.0.1:port, from `localAddress` when given (e.g. 127.0.0.2, another loopback host). */
  static async connect(port: number, localAddress?: string): Promise<RawPeer> {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Sends an object as one line. */
  send(packet: object): void {
    this.socket.write(JSON.stringify(packet) + '\n');
  }

  /** Waits until `count` lines have arrived in all; returns them parsed. */
  async lines(count: number, timeoutMs = 10000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.closed) throw new Error(`connection closed after ${this.received.length} of ${count} lines`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.received.length} of ${count} lines within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.slice(0, count).map((line) => JSON.parse(line));
  }

  /** The next line after those already seen by `lines(n)`. */
  async line(index: number, timeoutMs = 10000): Promise<any> {
    const all = await this.lines(index + 1, timeoutMs);
    return all[index];
  }

  /** Waits for the peer to close the connection. */
  async closedByPeer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

export interface FakeServerOptions {
  id: number;
  policy: number;
  brokerPort: number;
  /** Reply to each forwarded packet; return undefined to stay silent (and answer later with `socket`). */
  answer?: (packet: any, socket: Socket) => string | undefined;
  maxInflight?: number;
  session?: boolean;
  secret?: string;
  /** Send a heartbeat (type 5) on the registration connection this often, in ms. */
  heartbeatMs?: number;
  /** Register with this listenport instead of the fake's own (e.g. another program's). */
  listenport?: number;
  /** Register from this local address (e.g. 127.0.0.2). */
  localAddress?: string;
  /** More registration fields (e.g. httpport, httptls). */
  fields?: Record<string, unknown>;
}

/**
 * A server written with raw sockets: listens, registers, answers by the test's function.
 * `packets` records every packet the broker forwarded to it.
 */
export class FakeServer {
  readonly packets: any[] = [];
  registration: RawPeer | undefined;
  /** Connections the broker opened to this server. */
  readonly sockets = new Set<Socket>();
  /** Connections the broker opened, in all. */
  connections = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly options: FakeServerOptions,
    readonly listener: Server,
  ) {}

  static async start(options: FakeServerOptions): Promise<FakeServer> {
    const listener = createServer();
    const server = new FakeServer(options, listener);
    listener.on('connection', (socket) => server.serve(socket));
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    server.registration = await RawPeer.connect(options.brokerPort, options.localAddress);
    server.registration.send({
      type: 1,
      id: options.id,
      privPolyId: options.policy,
      listenport: options.listenport ?? server.port,
      maxInflight: options.maxInflight ?? 1,
      session: options.session ?? true,
      ...(options.secret === undefined ? {} : { secret: options.secret }),
      ...options.fields,
    });
    await server.registration.lines(1);
    if (options.heartbeatMs !== undefined) {
      const registration = server.registration;
      server.heartbeatTimer = setInterval(() => registration.send({ type: 5, id: options.id }), options.heartbeatMs);
    }
    return server;
  }

  /** Stops sending heartbeats; every socket stays open (a host gone dark behind NAT). */
  stopHeartbeats(): void {
    clearInterval(this.heartbeatTimer);
  }

  /** Sends a leave packet (type 6) on the registration connection. */
  leave(): void {
    this.registration!.send({ type: 6, id: this.options.id });
  }

  /** Packets received that are not probes (rid 0). */
  get realPackets(): any[] {
    return this.packets.filter((packet) => packet.rid !== 0);
  }

  get port(): number {
    return (this.listener.address() as AddressInfo).port;
  }

  /** Closes everything abruptly, like a crash. */
  kill(): void {
    this.stopHeartbeats();
    for (const socket of this.sockets) socket.destroy();
    this.listener.close();
    this.registration?.close();
  }

  private serve(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    readLines(socket, (line) => {
      const packet = JSON.parse(line);
      this.packets.push(packet);
      const answer = (this.options.answer ?? defaultAnswer(this.options.id))(packet, socket);
      if (answer !== undefined) socket.write(answer);
    });
  }
}

/** Reads `socket` as UTF-8 and calls `onLine` with each complete line, without its newline. */
export function readLines(socket: Socket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    buffer += text;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      onLine(line);
      nl = buffer.indexOf('\n');
    }
  });
}

/** A well-formed reply to a forwarded packet: payload "<id>:<payload>", rid echoed. */
export function replyLine(id: number, packet: any): string {
  return JSON.stringify({ type: 2, srcid: id, destid: packet.srcid, payload: `${id}:${packet.payload}`, rid: packet.rid }) + '\n';
}

function defaultAnswer(id: number): (packet: any) => string {
  return (packet) => replyLine(id, packet);
}
