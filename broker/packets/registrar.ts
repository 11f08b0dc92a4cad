/**
 * Admission of servers: checks the secret, records the server in the registry store (the
 * policy table follows the store), answers the registration, and follows session servers
 * (heartbeats, leave, the session closing). A session server the router drops for never
 * answering is told why on its session: the registrar hears of it from the store.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeRegistered } from '../protocol/encode.js';
import type { HeartbeatPacket, LeavePacket, Registration } from '../protocol/packet-types.js';
import type { RegistryStore, StoreEvent } from '../registry/store.js';
import type { Member } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { BrokerOptions } from '../options.js';
import type { Logger } from '../support/logger.js';
import type { PacketRouter } from './packet-router.js';
import { normalizeHost } from '../support/net-address.js';
import { SecretCheck } from '../support/secret.js';
import type { PeerConnection } from './peer-connection.js';

/** A session server's registration connection, and its heartbeats. */
interface Session {
  readonly conn: PeerConnection;
  readonly generation: number;
  heartbeats: number;
  lastSeenAt: number;
}

export class Registrar {
  /** Session servers by id. */
  private readonly sessions = new Map<number, Session>();
  private readonly secret: SecretCheck | undefined;

  constructor(
    private readonly store: RegistryStore,
    private readonly table: PolicyTable,
    private readonly router: PacketRouter,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    /** Names this broker as the owner of the registrations it takes. */
    private readonly owner = `${process.pid}`,
  ) {
    this.secret = options.registrationSecret === undefined ? undefined : new SecretCheck(options.registrationSecret);
    store.watch((event) => this.storeEvent(event));
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
    void this.admit(conn, reg);
  }

  /** Heartbeats received from a session server; undefined when it has no session. */
  heartbeatsOf(id: number): number | undefined {
    return this.sessions.get(id)?.heartbeats;
  }

  heartbeat(conn: PeerConnection, packet: HeartbeatPacket): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      if (session.conn === conn && (packet.id === undefined || packet.id === id)) {
        session.heartbeats++;
        session.lastSeenAt = now;
        void this.store.touch(id, session.generation);
      }
    }
  }

  leave(conn: PeerConnection, packet: LeavePacket): void {
    const session = this.sessions.get(packet.id);
    // Only the server's own session may take it out: any other process on its host could otherwise.
    if (session === undefined || session.conn !== conn) {
      conn.sendError(ErrorCode.BAD_PACKET, `a leave for server ${packet.id} must come on that server's session connection`);
      return;
    }
    this.sessions.delete(packet.id);
    const member = this.member(packet.id, session);
    if (member !== undefined) this.router.drainServer(member, 'left');
  }

  /** A connection closed: the session servers it carried leave. */
  closed(conn: PeerConnection): void {
    for (const [id, session] of this.sessions) {
      if (session.conn !== conn) continue;
      this.sessions.delete(id);
      const member = this.member(id, session);
      if (member !== undefined) this.router.drainServer(member, 'session closed');
    }
  }

  /** Takes out session servers whose heartbeats stopped, even if their connection seems open. */
  sweepHeartbeats(now: number): void {
    const limit = this.options.heartbeatMs * this.options.heartbeatMisses;
    for (const [id, session] of this.sessions) {
      if (session.heartbeats > 0 && now - session.lastSeenAt > limit) {
        this.sessions.delete(id);
        const member = this.member(id, session);
        this.log.warn('server missed its heartbeats', { id, policy: member?.policy, silentMs: now - session.lastSeenAt });
        if (member !== undefined) this.router.removeServer(member, 'missed heartbeats');
        session.conn.socket.destroy();
      }
    }
  }

  private async admit(conn: PeerConnection, reg: Registration): Promise<void> {
    let registered;
    try {
      registered = await this.store.register(
        {
          id: reg.id,
          policy: reg.policy,
          host: conn.host,
          packetPort: reg.listenport,
          httpPort: reg.httpport,
          maxInflight: reg.maxInflight,
          session: reg.session,
          tls: reg.tls ?? false,
          owner: this.owner,
        },
        {
          // A live server's id is not taken over from another host; a down one's may be.
          isLive: (old) => this.table.get(old.id)?.packets?.state !== 'down',
          // In a shared registry, a session server outlives a broker that dies by its missed
          // heartbeats' time at most.
          ttlMs: reg.session ? this.options.heartbeatMs * this.options.heartbeatMisses : undefined,
        },
      );
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.log.warn('registration refused', { id: reg.id, from: conn.host, reason: err.message });
      conn.sendError(err.code, err.message);
      return;
    }
    const { entry } = registered;
    if (entry.session) this.sessions.set(entry.id, { conn, generation: entry.generation, heartbeats: 0, lastSeenAt: Date.now() });
    else this.sessions.delete(entry.id);
    this.log.info('server registered', {
      id: entry.id,
      policy: entry.policy,
      address: `${entry.host}:${entry.packetPort}`,
      maxInflight: entry.maxInflight,
      session: entry.session,
    });
    conn.send(encodeRegistered({ id: entry.id, privPolyId: entry.policy, heartbeatMs: this.options.heartbeatMs }));
  }

  /** The table's member for a session, if it is still that registration. */
  private member(id: number, session: Session): Member | undefined {
    const member = this.table.get(id);
    return member?.info.generation === session.generation ? member : undefined;
  }

  /** The router dropped a server that never answered: tell its session why, and close it. */
  private storeEvent(event: StoreEvent): void {
    if (event.kind !== 'removed' || event.reason.kind !== 'dropped') return;
    const { entry } = event;
    const session = this.sessions.get(entry.id);
    if (session === undefined || session.generation !== entry.generation) return;
    this.sessions.delete(entry.id);
    session.conn.sendError(ErrorCode.BAD_SERVER, `server ${entry.id} dropped: its port ${entry.packetPort} did not answer a packet (${event.reason.detail})`);
    session.conn.end();
  }
}
