/**
 * Admission of servers: checks who may register and what (registration-guard.ts, id-claim.ts),
 * records the server, answers the registration, and
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
import type { AddressInfo } from 'node:net';
import { idClaimRefusal, portClaimRefusal, type SessionOwner } from '../registry/id-claim.js';
import { RegistrationGuard, sourceKey, type Refusal } from './registration-guard.js';
import type { PeerConnection } from './peer-connection.js';

export class Registrar {
  /** Session servers and the connection that is their session. */
  private readonly sessions = new Map<ServerRecord, PeerConnection>();
  readonly guard: RegistrationGuard;
  private readonly bySource = new Map<string, number>();

  constructor(
    private readonly registry: Registry,
    private readonly router: PacketRouter,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    /** The broker's listening sockets, which registrations may not name. */
    ownListeners: () => Array<AddressInfo | undefined>,
  ) {
    this.guard = new RegistrationGuard(options, ownListeners, (key) => this.bySource.get(key) ?? 0);
    // Servers registered per source, for --max-servers-per-source.
    registry.observe({
      added: (record) => this.bySource.set(sourceKey(record.host), (this.bySource.get(sourceKey(record.host)) ?? 0) + 1),
      removed: (record) => {
        const key = sourceKey(record.host);
        const left = (this.bySource.get(key) ?? 1) - 1;
        if (left > 0) this.bySource.set(key, left);
        else this.bySource.delete(key);
      },
      stateChanged: () => undefined,
    });
    router.onDropped = (record, reason) => this.dropped(record, reason);
  }

  register(conn: PeerConnection, reg: Registration): void {
    const refusal = this.guard.check(conn, reg) ?? this.claimRefusal(conn, reg);
    if (refusal !== undefined) {
      this.log.warn('registration refused', { id: reg.id, policy: reg.policy, from: conn.host, code: refusal.code, reason: refusal.message });
      conn.sendError(refusal.code, refusal.message);
      if (refusal.close) {
        conn.stopReading();
        conn.end();
      }
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

  /** Why `reg` may not take its id or ports from the servers holding them (id-claim.ts). */
  private claimRefusal(conn: PeerConnection, reg: Registration): Refusal | undefined {
    const existing = this.registry.get(reg.id);
    let owner: SessionOwner = 'none';
    if (existing !== undefined) {
      const session = this.sessions.get(existing);
      if (session === conn) owner = 'this-connection';
      else if (session !== undefined && !session.closed) owner = 'another-open-connection';
    }
    const message = idClaimRefusal(existing, reg, conn.host, owner) ?? portClaimRefusal(this.registry.servers(), reg, conn.host);
    return message === undefined ? undefined : { code: ErrorCode.DUPLICATE_ID, message, close: false };
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
