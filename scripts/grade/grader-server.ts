/**
 * The grader's own packet server, for grading a broker: it registers with the target the way the
 * classic lab server does (numbers as strings, no newline, the registration connection closed
 * once answered) and answers every packet with the SHA-1 of its payload, classic-style. It also
 * records what it received, so a check can see which policy each packet carried, and it can
 * die on its next packet to test failover with a packet in flight.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { sha1Hex } from '../../broker/support/sha1.js';
import { numberField, PacketConnection, type Received } from './packet-connection.js';
import { CONNECT_TIMEOUT_MS } from './options.js';

/** One packet as the server got it. */
export interface Receipt {
  /** The packet's policy field (privPoliId or privPolyId), if it had one. */
  policy: number | undefined;
  payload: unknown;
  text: string;
}

/** Receipts kept per server: more than any check sends, few enough that a flooding broker costs little memory. */
const MAX_RECEIPTS = 200_000;
/** Characters of a frame kept in a receipt, for the detail of a check. */
const KEPT_TEXT = 200;

export class GraderServer {
  readonly received: Receipt[] = [];
  /** Frames that were not JSON objects: a broker that forwards garbage, or several packets glued together. */
  readonly unparsable: string[] = [];
  private readonly sockets = new Set<Socket>();
  private dieOnNext = false;
  private dead = false;
  /** What ends each reply: nothing (classic), or a newline for a broker that reads replies by line. */
  private eol = '';
  private readonly connections = new Set<PacketConnection>();

  private constructor(
    readonly id: number,
    readonly policy: number,
    private readonly listener: Server,
  ) {}

  /** Starts listening on a free loopback port; register() tells the target about it. */
  static async start(id: number, policy: number): Promise<GraderServer> {
    const listener = createServer();
    const server = new GraderServer(id, policy, listener);
    listener.on('connection', (socket) => server.serve(socket));
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    return server;
  }

  get port(): number {
    return (this.listener.address() as AddressInfo).port;
  }

  /**
   * Registers with the target classic-style and waits up to answerMs for its answer (the
   * classic server does not wait; the wait only lets the grade show a refusal).
   */
  async register(host: string, port: number, answerMs: number): Promise<Received> {
    // The connect gets the grader's connect bound, not answerMs: a SYN dropped by a full listen
    // queue is sent again after 1 s, which a 1 s connect never waits for.
    const connection = await PacketConnection.open(host, port, CONNECT_TIMEOUT_MS);
    try {
      connection.write(JSON.stringify({ type: '1', id: String(this.id), privPolyId: String(this.policy), listenport: String(this.port) }));
      return await connection.next(answerMs);
    } finally {
      connection.destroy();
    }
  }

  /**
   * Ends replies with a newline from now on (or stops); switching on also writes one to every
   * open connection, ending the reply a line-reading broker may be waiting on.
   */
  useNewline(on: boolean): void {
    this.eol = on ? '\n' : '';
    if (on) for (const connection of this.connections) connection.write('\n');
  }

  /** The next packet this server receives is not answered: the server dies on it, like a crashed process. */
  dieOnNextPacket(): void {
    this.dieOnNext = true;
  }

  /** Stops like a killed process: no listener, every connection reset. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.listener.close();
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** True once killed (or closed). */
  get isDead(): boolean {
    return this.dead;
  }

  private serve(socket: Socket): void {
    if (this.dead) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const connection = PacketConnection.accepted(socket);
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
    const loop = async (): Promise<void> => {
      for (;;) {
        const received = await connection.next(2 ** 31 - 1);
        if (received.kind === 'closed' || received.kind === 'timeout') return;
        if (received.kind === 'unparsable') {
          if (this.unparsable.length < 100) this.unparsable.push(received.text.slice(0, KEPT_TEXT));
          continue;
        }
        this.answer(connection, received.packet, received.text);
      }
    };
    void loop();
  }

  private answer(connection: PacketConnection, packet: Record<string, unknown>, text: string): void {
    const policy = numberField(packet, 'privPoliId') ?? numberField(packet, 'privPolyId');
    if (this.received.length < MAX_RECEIPTS) this.received.push({ policy, payload: typeof packet.payload === 'string' ? packet.payload.slice(0, 2000) : null, text: text.slice(0, KEPT_TEXT) });
    if (this.dieOnNext) {
      this.kill();
      return;
    }
    const payload = typeof packet.payload === 'string' ? packet.payload : '';
    const hash = sha1Hex(payload);
    const reply: Record<string, unknown> = { type: '2', srcid: String(this.id), destid: packet.srcid, payloadsize: String(hash.length), payload: hash };
    if (packet.rid !== undefined) reply.rid = packet.rid;
    connection.write(JSON.stringify(reply) + this.eol);
  }

  /** Closes the listener and every connection. */
  close(): void {
    this.dead = true;
    this.listener.close();
    for (const socket of this.sockets) socket.destroy();
  }
}
