/**
 * Admission of servers: checks the secret, records the server, answers the registration, and
 * follows session servers (heartbeats, leave, the session closing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeRegistered } from '../protocol/encode.js';
import type { HeartbeatPacket, LeavePacket, Registration } from '../protocol/packet-types.js';
import type { Registry } from '../registry/registry.js';
import type { ServerRecord } from '../registry/server-record.js';
import type { BrokerOptions } from '../options.js';
import type { Logger } from '../support/logger.js';
import type { PacketRouter } from './packet-router.js';
import type { PeerConnection } from './peer-connection.js';

export class Registrar {
  /** Session servers and the connection that is their session. */
  private readonly sessions = new Map<ServerRecord, PeerConnection>();
  private readonly secretDigest: Buffer | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly router: PacketRouter,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
  ) {
    this.secretDigest = options.registrationSecret === undefined ? undefined : digest(options.registrationSecret);
  }

  register(conn: PeerConnection, reg: Registration): void {
    if (this.secretDigest !== undefined && (reg.secret === undefined || !timingSafeEqual(digest(reg.secret), this.secretDigest))) {
      this.log.warn('registration refused: wrong or missing secret', { id: reg.id, from: conn.host });
      conn.sendError(ErrorCode.UNAUTHORIZED, 'registration refused: wrong or missing secret');
      conn.end();
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
    if (replaced !== undefined) {
      this.sessions.delete(replaced);
      this.router.removeServer(replaced, 'registered again');
    }
    if (record.session) this.sessions.set(record, conn);
    this.router.addServer(record);
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
    // Only the server's own session, or its own host, may take it out.
    if (record === undefined || (this.sessions.get(record) !== conn && record.host !== conn.host)) return;
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

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
