/**
 * The grader acting as a broker, for grading a server: it listens where the student's server
 * registers, answers the registration as policy-broker does (type 4), keeps the session open if
 * the server keeps it, and records the registration as sent, for the checks to judge.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeError, encodeRegistered } from '../../broker/protocol/encode.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import type { Registration } from '../../broker/protocol/packet-types.js';
import { decodePacket } from '../../broker/protocol/validate.js';
import { PacketConnection } from './packet-connection.js';

/** A registration as it arrived: its text, where from, and what validation made of it. */
export interface ReceivedRegistration {
  text: string;
  /** The address the registration came from: the server is dialed there, at its listenport. */
  host: string;
  /** The validated packet, or why it is not a valid registration. */
  result: { ok: true; packet: Registration } | { ok: false; error: string };
}

/** How often the grader asks session servers to heartbeat; it never enforces it. */
const HEARTBEAT_MS = 1000;

export class GraderBroker {
  private readonly sockets = new Set<Socket>();
  private resolveFirst!: (registration: ReceivedRegistration) => void;
  /** The first registration to arrive (valid or not). */
  readonly registered = new Promise<ReceivedRegistration>((resolve) => (this.resolveFirst = resolve));

  private constructor(private readonly listener: Server) {}

  static async start(host: string, port: number): Promise<GraderBroker> {
    const listener = createServer();
    const broker = new GraderBroker(listener);
    listener.on('connection', (socket) => broker.accept(socket));
    listener.listen(port, host);
    await Promise.race([once(listener, 'listening'), once(listener, 'error').then(([err]) => Promise.reject(err as Error))]);
    return broker;
  }

  get address(): { host: string; port: number } {
    const address = this.listener.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  close(): void {
    this.listener.close();
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const connection = PacketConnection.accepted(socket);
    const host = (socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    void (async () => {
      // The first frame is the registration; later frames on a session (heartbeats) are read and ignored.
      const first = await connection.next(60_000);
      if (first.kind !== 'packet' && first.kind !== 'unparsable') return;
      const registration = judge(first.text, host);
      if (registration.result.ok) {
        const { id, policy } = registration.result.packet;
        connection.write(encodeRegistered({ id, privPolyId: policy, heartbeatMs: HEARTBEAT_MS }));
      } else {
        connection.write(encodeError(ErrorCode.BAD_PACKET, registration.result.error));
      }
      this.resolveFirst(registration);
      for (;;) {
        const next = await connection.next(2 ** 31 - 1);
        if (next.kind === 'closed' || next.kind === 'timeout') return;
      }
    })();
  }
}

/** Validates a registration with the broker's own decoder. */
export function judge(text: string, host: string): ReceivedRegistration {
  try {
    const packet = decodePacket(text);
    if (packet.type !== 1) return { text, host, result: { ok: false, error: `the first packet is type ${packet.type}, not a registration (type 1)` } };
    return { text, host, result: { ok: true, packet } };
  } catch (err) {
    return { text, host, result: { ok: false, error: err instanceof ProtocolError ? err.message : String(err) } };
  }
}
