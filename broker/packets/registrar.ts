/**
 * Admission of servers: checks who may register and what (registry/registration-guard.ts,
 * registry/id-claim.ts), records the server in the registry store (the policy table follows the
 * store), answers the registration, and follows session servers (heartbeats, leave, the
 * session closing). A session server the router drops for never
 * answering is told why on its session: the registrar hears of it from the store.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import { encodeLine, encodeRegistered } from '../protocol/encode.js';
import type { HeartbeatPacket, LeavePacket, Registration } from '../protocol/packet-types.js';
import type { Registered, RegistryStore, StoreEvent } from '../registry/store.js';
import type { Member } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { BrokerOptions } from '../options.js';
import type { Logger } from '../support/logger.js';
import type { PacketRouter } from './packet-router.js';
import type { AddressInfo } from 'node:net';
import { idClaimRefusal, portClaimRefusal, type SessionOwner } from '../registry/id-claim.js';
import { RegistrationGuard, sourceKey, type Refusal } from '../registry/registration-guard.js';
import type { PeerConnection } from './peer-connection.js';

/** Why a session server is taken out when its session connection closes without a leave. */
export const SESSION_LOST = 'session connection lost without a leave';

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
  readonly guard: RegistrationGuard;
  /** Servers registered per source, for --max-servers-per-source. */
  private readonly bySource = new Map<string, number>();
  /** Keeps `bySource` in step with the table: the composition root adds it to the table's observers. */
  readonly sourceCounts: TableObserver;

  constructor(
    private readonly store: RegistryStore,
    private readonly table: PolicyTable,
    private readonly router: PacketRouter,
    private readonly options: BrokerOptions,
    private readonly log: Logger,
    /** The broker's listening sockets, which registrations may not name. */
    ownListeners: () => Array<AddressInfo | undefined>,
    /** Names this broker as the owner of the registrations it takes. */
    private readonly owner = `${process.pid}`,
  ) {
    this.guard = new RegistrationGuard(options, ownListeners, (key) => this.bySource.get(key) ?? 0);
    this.sourceCounts = {
      added: (member) => {
        if (member.id === undefined) return;
        const key = sourceKey(member.host, options.ipv6SourcePrefix);
        this.bySource.set(key, (this.bySource.get(key) ?? 0) + 1);
      },
      removed: (member) => {
        if (member.id === undefined) return;
        const key = sourceKey(member.host, options.ipv6SourcePrefix);
        const left = (this.bySource.get(key) ?? 1) - 1;
        if (left > 0) this.bySource.set(key, left);
        else this.bySource.delete(key);
      },
    };
    store.watch((event) => this.storeEvent(event));
  }

  register(conn: PeerConnection, reg: Registration): void {
    const refusal = this.guard.check(conn, reg) ?? this.claimRefusal(conn, reg);
    if (refusal !== undefined) {
      if (refusal.quiet !== true) this.log.warn('registration refused', { id: reg.id, policy: reg.policy, from: conn.host, code: refusal.code, reason: refusal.message });
      conn.sendError(refusal.code, refusal.message);
      if (refusal.close) {
        conn.stopReading();
        conn.end();
      }
      return;
    }
    this.admit(conn, reg);
  }

  /** Heartbeats received from a session server; undefined when it has no session. */
  heartbeatsOf(id: number): number | undefined {
    return this.sessions.get(id)?.heartbeats;
  }

  heartbeat(conn: PeerConnection, packet: HeartbeatPacket): void {
    const now = Date.now();
    let held = false;
    for (const [id, session] of this.sessions) {
      if (session.conn === conn && (packet.id === undefined || packet.id === id)) {
        held = true;
        session.heartbeats++;
        session.lastSeenAt = now;
        void this.store.touch(id, session.generation);
      }
    }
    // Answered only while this connection holds the session: a server whose session was taken
    // out hears nothing, as from a dead broker, and registers again.
    if (packet.echo === true && held) conn.send(encodeLine(packet.id === undefined ? { type: 5 } : { type: 5, id: packet.id }));
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

  /**
   * A connection closed: the session servers it carried leave. A server that left sent a leave
   * first (its session is gone already), so one still here closed without one: killed, crashed
   * or cut off. The reason says so, and the log tells it from a graceful leave ("left").
   */
  closed(conn: PeerConnection): void {
    for (const [id, session] of this.sessions) {
      if (session.conn !== conn) continue;
      this.sessions.delete(id);
      const member = this.member(id, session);
      if (member !== undefined) this.router.drainServer(member, SESSION_LOST);
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

  /** Records the registration in the store and answers it (at once when the store answers at once). */
  private admit(conn: PeerConnection, reg: Registration): void {
    const entry = {
      id: reg.id,
      policy: reg.policy,
      host: conn.host,
      packetPort: reg.listenport,
      httpPort: reg.httpport,
      maxInflight: reg.maxInflight,
      session: reg.session,
      tls: reg.tls ?? false,
      ...(reg.weight !== undefined && { weight: reg.weight }),
      ...(reg.httptls === true && reg.httpport !== undefined && { httpTls: true }),
      owner: this.owner,
    };
    let registered: Registered | Promise<Registered>;
    try {
      // claimRefusal() decided whether the id may be taken from this broker's own servers (the
      // one rule, id-claim.ts); a record another broker keeps alive is refused in the shared
      // store itself (DUPLICATE_ID, decided in Redis). A session server's record outlives a
      // broker that dies by its missed heartbeats' time at most.
      const ttlMs = reg.session ? this.options.heartbeatMs * this.options.heartbeatMisses : undefined;
      registered = this.store.register(entry, { ttlMs });
    } catch (err) {
      return this.refused(conn, reg, err);
    }
    if (registered instanceof Promise) registered.then((r) => this.registered(conn, r), (err: unknown) => this.refused(conn, reg, err));
    else this.registered(conn, registered);
  }

  private refused(conn: PeerConnection, reg: Registration, err: unknown): void {
    if (!(err instanceof ProtocolError)) throw err;
    this.log.warn('registration refused', { id: reg.id, from: conn.host, reason: err.message });
    conn.sendError(err.code, err.message);
  }

  private registered(conn: PeerConnection, { entry }: Registered): void {
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

  /** Why `reg` may not take its id or ports from the servers holding them (id-claim.ts). */
  private claimRefusal(conn: PeerConnection, reg: Registration): Refusal | undefined {
    const existing = this.table.get(reg.id);
    let owner: SessionOwner = 'none';
    const session = this.sessions.get(reg.id);
    if (existing !== undefined && session !== undefined && session.generation === existing.info.generation) {
      if (session.conn === conn) owner = 'this-connection';
      else if (!session.conn.closed) owner = 'another-open-connection';
    }
    const message = idClaimRefusal(existing, reg, conn.host, owner) ?? portClaimRefusal(this.table.members(), reg, conn.host);
    return message === undefined ? undefined : { code: ErrorCode.DUPLICATE_ID, message, close: false };
  }

  /** The table's member for a session, if it is still that registration. */
  private member(id: number, session: Session): Member | undefined {
    const member = this.table.get(id);
    return member?.info.generation === session.generation ? member : undefined;
  }

  /**
   * The router dropped a server that never answered: tell its session why, and close it. A
   * session whose record another broker replaced (a newer generation of its id, written while
   * this broker could not renew it): tell it and close it too, so that a real server behind it
   * registers again rather than heartbeat to a broker that no longer routes to it.
   */
  private storeEvent(event: StoreEvent): void {
    if (event.kind === 'added' && event.replaced !== undefined && event.entry.owner !== this.owner) {
      const { replaced, entry } = event;
      const session = this.sessions.get(replaced.id);
      if (session === undefined || session.generation !== replaced.generation) return;
      this.sessions.delete(replaced.id);
      this.log.warn('server session replaced through another broker; closing it', { id: entry.id, policy: replaced.policy, by: entry.owner, from: entry.host });
      session.conn.sendError(ErrorCode.DUPLICATE_ID, `server id ${entry.id} was registered again through another broker (${entry.owner}); this session is closed: register again`);
      session.conn.end();
      return;
    }
    if (event.kind !== 'removed' || event.reason.kind !== 'dropped') return;
    const { entry } = event;
    const session = this.sessions.get(entry.id);
    if (session === undefined || session.generation !== entry.generation) return;
    this.sessions.delete(entry.id);
    session.conn.sendError(ErrorCode.BAD_SERVER, `server ${entry.id} dropped: its port ${entry.packetPort} did not answer a packet (${event.reason.detail})`);
    session.conn.end();
  }
}
