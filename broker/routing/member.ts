/**
 * A member of the policy table: one server, registered or listed in a servers.conf, with one
 * endpoint per protocol it serves. Each endpoint has its own state and outstanding count (the
 * packet port and the HTTP port are different ports and fail apart), and is what a strategy
 * chooses among. A member without a `packets` endpoint can never be picked for a packet: the
 * packet path asks the table for packet endpoints only.
 */
import type { Selectable } from './strategies/strategy.js';

/** The protocols a member may serve. */
export const PROTOCOLS = ['packets', 'http'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * - connecting: joined, not yet confirmed (being dialed, or no response seen yet); selectable.
 * - up: answering; selectable.
 * - down: unreachable or not answering; not selectable; the broker probes it back.
 * - draining: leaving; not selectable; what it holds is still answered.
 */
export type MemberState = 'connecting' | 'up' | 'down' | 'draining';

/**
 * What an operator asked of a member (the runtime API), apart from what the broker sees of it
 * (MemberState): enabled, drain (no new work; what it holds finishes), disabled (out at once).
 * Health checks and links never change it, so a drained server stays out while it answers.
 */
export const ADMIN_MODES = ['enabled', 'drain', 'disabled'] as const;
export type AdminMode = (typeof ADMIN_MODES)[number];

export function isSelectable(state: MemberState): boolean {
  return state === 'connecting' || state === 'up';
}

/** Where a member is and what it serves: plain data, as a registry store keeps it. */
export interface MemberInfo {
  /** The registered server's id; undefined for a static backend. */
  readonly id: number | undefined;
  readonly policy: number;
  readonly host: string;
  /** The packet port; undefined when the member serves HTTP only. */
  readonly packetPort: number | undefined;
  /** The HTTP port; undefined when the member serves packets only. */
  readonly httpPort: number | undefined;
  /** Packets the server takes at once on one connection. */
  readonly maxInflight: number;
  /** True when its registration connection is its session (it leaves when that closes). */
  readonly session: boolean;
  /** True when the broker dials its packet port with TLS. */
  readonly tls: boolean;
  readonly registeredAt: number;
  /** Bumped by the store on each registration of the id: an event about an older one is stale. */
  readonly generation: number;
  /** Its share relative to the other members of its policy, 1-1000 (absent: 1). */
  readonly weight?: number;
  /** True when the broker reaches its HTTP port over HTTPS (certificate verified). */
  readonly httpTls?: boolean;
  /** With httpTls: the SNI name its certificate must carry (absent: its address). */
  readonly httpServername?: string;
}

/**
 * Whether two registrations describe the same server at the same endpoints (id, policy, host,
 * ports, tls): a registration of it again (e.g. moving to another broker) renews the member and
 * keeps its links; anything else is a new member.
 */
export function sameEndpoint(a: MemberInfo, b: MemberInfo): boolean {
  return a.id === b.id && a.policy === b.policy && a.host === b.host && a.packetPort === b.packetPort && a.httpPort === b.httpPort && a.tls === b.tls;
}

export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 1000;

/** Why `weight` is not a weight (a whole number from 1 to 1000), or undefined when it is. */
export function weightProblem(weight: unknown): string | undefined {
  return Number.isInteger(weight) && (weight as number) >= MIN_WEIGHT && (weight as number) <= MAX_WEIGHT
    ? undefined
    : `weight must be a whole number from ${MIN_WEIGHT} to ${MAX_WEIGHT}, got ${JSON.stringify(weight)}`;
}

/**
 * One protocol of one member: what a strategy picks, and the only copy of its outstanding count.
 * Its state and counts have one writer each, in routing/: the table (state, selection,
 * outstanding), the liveness rules (failures, last error; liveness.ts) and the attempt policy
 * (served). Everywhere else they are read-only getters; routing/ writes the private fields
 * through endpoint-writes.ts, which the layering check keeps inside routing/.
 */
export class Endpoint implements Selectable {
  private _outstanding = 0;
  private _state: MemberState = 'connecting';
  private _served = 0;
  private _failures = 0;
  private _lastError: string | undefined;
  private _inSelection = false;
  /** True once its member has been added to a table. */
  private _joined = false;

  constructor(
    readonly member: Member,
    readonly protocol: Protocol,
    readonly port: number,
  ) {}

  /** Requests or packets handed to it and not yet settled (in flight or queued). */
  get outstanding(): number {
    return this._outstanding;
  }

  get state(): MemberState {
    return this._state;
  }

  /**
   * Only for an endpoint whose member is not in a table yet (tests build members in a given
   * state); once it joins, routing/ writes it (Liveness), and this throws.
   */
  set state(state: MemberState) {
    if (this._joined) throw new Error(`${this.address}: the state of an endpoint in a table is routing's to change (report a verdict to Liveness)`);
    this._state = state;
  }

  /** Answers relayed from it. */
  get served(): number {
    return this._served;
  }

  /** Failed attempts (and health checks) on it. */
  get failures(): number {
    return this._failures;
  }

  /** Why it last failed, for the status page. */
  get lastError(): string | undefined {
    return this._lastError;
  }

  /** True while it is in its policy's strategy; the table keeps it. */
  get inSelection(): boolean {
    return this._inSelection;
  }

  /** The member's id (undefined for a static backend) and host: with `port`, how logs and the trace name it. */
  get id(): number | undefined {
    return this.member.info.id;
  }

  get host(): string {
    return this.member.info.host;
  }

  get policy(): number {
    return this.member.info.policy;
  }

  /** What the operator asked of the member (both endpoints share it). */
  get admin(): AdminMode {
    return this.member.admin;
  }

  /** The member's weight: both its endpoints share it. */
  get weight(): number {
    return this.member.weight;
  }

  get source(): 'registered' | 'static' {
    return this.member.source;
  }

  /** `host:port`, for logs and errors. */
  get address(): string {
    const host = this.member.host;
    return `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }
}

export class Member {
  readonly packets: Endpoint | undefined;
  readonly http: Endpoint | undefined;
  /** False once removed from the table. */
  present = true;
  /** How counters and metrics name it: the id, or the HTTP address of a static backend. */
  readonly label: string;
  /** Its share in its policy; changed only by PolicyTable.setWeight (which tells the strategies). */
  weight: number;
  /** What the operator asked (PolicyTable.setAdmin); only `enabled` members are picked. */
  admin: AdminMode = 'enabled';
  /** Where it is and what it serves; replaced only by PolicyTable.renew (the same server registered again). */
  info: MemberInfo;

  constructor(info: MemberInfo) {
    this.info = info;
    this.weight = info.weight ?? 1;
    this.packets = info.packetPort === undefined ? undefined : new Endpoint(this, 'packets', info.packetPort);
    this.http = info.httpPort === undefined ? undefined : new Endpoint(this, 'http', info.httpPort);
    this.label = info.id === undefined ? (this.http?.address ?? info.host) : String(info.id);
  }

  get id(): number | undefined {
    return this.info.id;
  }

  get policy(): number {
    return this.info.policy;
  }

  get host(): string {
    return this.info.host;
  }

  /** Registered with the broker, or listed in a servers.conf. */
  get source(): 'registered' | 'static' {
    return this.info.id === undefined ? 'static' : 'registered';
  }

  endpoint(protocol: Protocol): Endpoint | undefined {
    return protocol === 'packets' ? this.packets : this.http;
  }

  /**
   * Whether the strategy may choose this endpoint now. A server's HTTP port is taken out with
   * its packet port (a server that is draining or down for packets takes no requests either);
   * the HTTP state never moves the packet state.
   */
  selectable(endpoint: Endpoint): boolean {
    if (!this.present || this.admin !== 'enabled' || !isSelectable(endpoint.state)) return false;
    return endpoint.protocol === 'packets' || this.packets === undefined || isSelectable(this.packets.state);
  }
}
