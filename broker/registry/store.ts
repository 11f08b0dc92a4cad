/**
 * Where registrations live: the membership behind the policy table. The broker's routing reads
 * only its local table (synchronous, per packet); the store is written on registration, removal
 * and drain, and the table follows it through watch().
 *
 * The interface is the one a remote store (Redis, shared by several brokers) can implement:
 * - every call may be async (a local store answers a registration at once, which keeps the
 *   answers on a connection in the order of its packets);
 * - each registration of an id gets a new `generation`, and remove/drain name the generation
 *   they mean, so a late call about a server's previous registration cannot touch the new one;
 * - a record is owned by the broker that took the registration (`owner`) and may carry a TTL
 *   that its owner renews with touch() (session heartbeats); a record whose owner stops
 *   renewing it expires, and watchers see it removed.
 * Liveness (up, down, probing) is each broker's own observation of its links, kept in its
 * table, not in the store: a server one broker cannot reach may be fine for another.
 */
import type { AdminMode, MemberInfo } from '../routing/member.js';

/** A registration as the store keeps it. */
export interface ServerEntry extends MemberInfo {
  readonly id: number;
  /** The broker that took the registration. */
  readonly owner: string;
  /** Leaving: no new work, what it holds is still answered. */
  readonly draining: boolean;
  /** What an operator asked of it (the runtime API, through any broker); absent: enabled. */
  readonly admin?: AdminMode;
}

/** An operator's change to a registered server (the runtime API): its admin mode, its weight, or both. */
export interface AdminChange {
  readonly mode?: AdminMode;
  readonly weight?: number;
}

/** What a registration asks for: the entry without what the store assigns. */
export type NewEntry = Omit<ServerEntry, 'generation' | 'draining' | 'registeredAt'>;

/** Why an entry left the store. */
export type RemovalReason =
  | { kind: 'left'; detail: string }
  /** It never answered a packet: whatever listens on its port does not speak the protocol. */
  | { kind: 'dropped'; detail: string }
  | { kind: 'expired' };

export type StoreEvent =
  /** A registration; `replaced` is the entry of its id it replaces (it leaves with this event). */
  | { readonly kind: 'added'; readonly entry: ServerEntry; readonly replaced: ServerEntry | undefined }
  | { readonly kind: 'removed'; readonly entry: ServerEntry; readonly reason: RemovalReason }
  | { readonly kind: 'draining'; readonly entry: ServerEntry }
  /** The operator changed its admin mode or weight (setAdmin): the same registration, `entry` as it now is. */
  | { readonly kind: 'updated'; readonly entry: ServerEntry };

export interface Registered {
  entry: ServerEntry;
  /** The entry this registration replaced (same id, registering again). */
  replaced: ServerEntry | undefined;
}

export interface RegistryStore {
  /**
   * Records a registration, replacing the entry of its id. Whether it may take the id from the
   * servers this broker holds is decided before, once (id-claim.ts, by the registrar); a shared
   * store refuses (ProtocolError DUPLICATE_ID) an id that another live broker keeps, which this
   * broker cannot see the liveness of.
   */
  register(entry: NewEntry, options?: { ttlMs?: number }): Registered | Promise<Registered>;
  /**
   * Removes the entry of `id` if it is still `generation`; resolves false when it was not.
   * remove() and drain() emit their event before their first await: the table that follows the
   * store is in step when the call returns (Membership.leave and drain count on it).
   */
  remove(id: number, generation: number, reason: RemovalReason): Promise<boolean>;
  /** Marks the entry of `id` (if still `generation`) as draining. */
  drain(id: number, generation: number): Promise<boolean>;
  /**
   * Applies an operator's change to the entry of `id` (if still `generation`), for every broker
   * that follows the store; resolves false when it was not. A shared store rejects it
   * (ProtocolError UNAVAILABLE) while it cannot write it, so that no broker disagrees.
   */
  setAdmin(id: number, generation: number, change: AdminChange): Promise<boolean>;
  /** Renews a record's TTL (a session's heartbeat). */
  touch(id: number, generation: number): Promise<void>;
  /** Every entry. */
  list(): Promise<ServerEntry[]>;
  /** Calls `listener` with every change from now on, in order; returns the unsubscribe. */
  watch(listener: (event: StoreEvent) => void): () => void;
}
