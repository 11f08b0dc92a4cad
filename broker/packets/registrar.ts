/**
 * Admission of servers: checks the secret, records the server, answers the registration, and
 * follows session servers (heartbeats, leave, the session closing).
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeRegistered } from '../protocol/encode.js';
import type { HeartbeatPacket, LeavePacket, Registration } from '../protocol/packet-types.js';
import type { Registry } from '../registry/registry.js';
import type { ServerRecord } from '../registry/server-record.js';
import type { BrokerOptions } from '../options.js';
import type { Logger } from '../support/logger.js';
import type { PacketRouter } from './packet-router.js';
import { normalizeHost } from '../support/net-address.js';
import { SecretCheck } from '../support/secret.js';
import type { PeerConnection } from './peer-connection.js';

export class Registrar {
  /** Session servers and the connection that is their session. */
  private readonly sessions = new Map<ServerRecord, PeerConnection>();
  private readonly secret: SecretCheck | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly router: PacketRouter,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
  ) {
    this.secret = options.registrationSecret === undefined ? undefined : new SecretCheck(options.registrationSecret);
    router.onDropped = (record, reason) => this.dropped(record, reason);
  }

  register(conn: PeerConnection, reg: Registration): void {
    if (this.secret !== undefined && !this.secret.matches(reg.secret)) {
      this.log.warn('registration refused: wrong or missing secret', { id: reg.id, from: conn.host });
      conn.sendError(ErrorCode.UNAUTHORIZED, 'registration refused: wrong or missing secret');
      conn.end();
      return;
    }
    if (reg.listenport === conn.socket.localPort && conn.host === normalizeHost(conn.socket.localAddress ?? '')) {
      // The broker would dial itself and route its own packets back to itself.
      this.log.warn('registration refused: the listenport is the broker\'s own', { id: reg.id, from: conn.host });
      conn.sendError(ErrorCode.BAD_PACKET, `listenport ${reg.listenport} is the broker's own port`);
      return;
    }
    let registered;
    try {
      registered = this.registry.register(reg, conn.host);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.log.warn('registration refused', { id: reg.id, from: conn.host, reason: err.message });
      conn.sendError(err.code, err.message);
      return;
    }
    const { record, replaced } = registered;
    if (record.session) this.sessions.set(record, conn);
    // The new record's link first: the old one's packets are re-routed and may pick it.
    this.router.addServer(record);
    if (replaced !== undefined) {
      this.sessions.delete(replaced);
      this.router.removeServer(replaced, 'registered again');
    }
    this.log.info('server registered', {
      id: record.id,
      policy: record.policy,
      address: `${record.host}:${record.port}`,
      maxInflight: record.maxInflight,
      session: record.session,
    });
    conn.send(encodeRegistered({ id: record.id, privPolyId: record.policy, heartbeatMs: this.options.heartbeatMs }));
  }

  heartbeat(conn: PeerConnection, packet: HeartbeatPacket): void {
    const now = Date.now();
    for (const [record, session] of this.sessions) {
      if (session === conn && (packet.id === undefined || packet.id === record.id)) {
        record.heartbeats++;
        record.lastSeenAt = now;
      }
    }
  }

  leave(conn: PeerConnection, packet: LeavePacket): void {
    const record = this.registry.get(packet.id);
    // Only the server's own session may take it out: any other process on its host could otherwise.
    if (record === undefined || this.sessions.get(record) !== conn) {
      conn.sendError(ErrorCode.BAD_PACKET, `a leave for server ${packet.id} must come on that server's session connection`);
      return;
    }
    this.sessions.delete(record);
    this.router.drainServer(record, 'left');
  }

  /** A connection closed: the session servers it carried leave. */
  closed(conn: PeerConnection): void {
    for (const [record, session] of this.sessions) {
      if (session !== conn) continue;
      this.sessions.delete(record);
      if (this.registry.get(record.id) === record) this.router.drainServer(record, 'session closed');
    }
  }

  /** The router dropped a server that never answered: tell its session why, and close it. */
  private dropped(record: ServerRecord, reason: string): void {
    const session = this.sessions.get(record);
    if (session === undefined) return;
    this.sessions.delete(record);
    session.sendError(ErrorCode.BAD_SERVER, `server ${record.id} dropped: its port ${record.port} did not answer a packet (${reason})`);
    session.end();
  }

  /** Takes out session servers whose heartbeats stopped, even if their connection seems open. */
  sweepHeartbeats(now: number): void {
    const limit = this.options.heartbeatMs * this.options.heartbeatMisses;
    for (const [record, session] of this.sessions) {
      if (record.heartbeats > 0 && now - record.lastSeenAt > limit) {
        this.sessions.delete(record);
        this.log.warn('server missed its heartbeats', { id: record.id, policy: record.policy, silentMs: now - record.lastSeenAt });
        this.router.removeServer(record, 'missed heartbeats');
        session.socket.destroy();
      }
    }
  }
}
