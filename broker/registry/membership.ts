/**
 * Membership: who is in each policy. The one writer of the table's members (PolicyTable.add,
 * remove, renew): it applies the registry store's events and the servers.conf list of static
 * members, and the others *ask* it (`leave`, `drain`), it does not let them edit the table.
 *
 * The table follows the store: an entry added becomes a member (or, for the same server at the
 * same endpoints registering again, renews its member: its links and outstanding packets stay),
 * an entry removed or draining takes its member out. An event about an older generation of an
 * id than the table holds is stale and changes nothing. `leave` and `drain` write the store and
 * let its event apply; both stores emit that event before their first await (the Redis store
 * from its local view), so the member is out before the call returns. Where the store has no
 * such entry (a held record, below) the change is applied here at once, and the same change
 * arriving again later is a no-op.
 *
 * One exception, with a shared store: a session server whose record **expired** (its owner
 * broker stopped renewing it: it died, or lost Redis) while this broker's packet link to it is up
 * stays for `expiryGraceMs`, routable over that same connection. Such a server is usually alive
 * and registering again through another broker (refused until the old record expires, then
 * accepted): its registration then renews the member, and no link is torn down and dialed again
 * under load. It goes at once if its link leaves `up` (a new process on that port is not the
 * server that registered), when the grace ends, or when the store says anything else of it.
 *
 * Static members (servers.conf): added ones join, removed ones drain (no new requests; those in
 * flight finish, up to `drainMs`) and then leave, unchanged ones keep their member, and with it
 * their connections, counters and health; a changed weight is applied in place.
 */
import { sameEndpoint, Member, type Endpoint } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { Logger } from '../support/logger.js';
import type { StaticBackend } from '../support/servers-file.js';
import { waitUntil } from '../support/wait-until.js';
import { planStatic, type ReloadResult } from './static-members.js';
import type { AdminChange, RegistryStore, RemovalReason, ServerEntry, StoreEvent } from './store.js';

export type { ReloadResult } from './static-members.js';

export interface FollowOptions {
  /** How long a session server whose record expired stays while its link is up; 0 (the default): not at all. */
  expiryGraceMs?: number;
}

export interface MembershipOptions extends FollowOptions {
  /** How long a static member removed from servers.conf may take to finish its requests before it leaves anyway. */
  drainMs?: number;
  log?: Logger;
}

export class Membership implements TableObserver {
  /** Members whose record expired, kept through the grace: each with the timer that takes it out. */
  private readonly held = new Map<Member, NodeJS.Timeout>();
  /** The servers.conf members by `host:port policy [tls servername]`. */
  private readonly statics = new Map<string, Member>();
  private store: RegistryStore | undefined;
  private readonly graceMs: number;

  constructor(
    private readonly table: PolicyTable,
    private readonly options: MembershipOptions = {},
  ) {
    this.graceMs = options.expiryGraceMs ?? 0;
  }

  /** Keeps the table in step with `store` from now on; returns the unsubscribe (which also ends every hold). */
  follow(store: RegistryStore): () => void {
    this.store = store;
    const unwatch = store.watch((event) => this.apply(event));
    return () => {
      unwatch();
      if (this.store === store) this.store = undefined;
      this.close();
    };
  }

  /** Applies one store event to the table. */
  apply(event: StoreEvent): void {
    if (event.kind === 'added') {
      const current = this.table.get(event.entry.id);
      if (current === undefined) this.join(event.entry);
      else if (current.info.generation >= event.entry.generation) {
        // A held record written back under its generation (its owner renewed it late): it stays.
        if (current.info.generation === event.entry.generation) this.release(current);
      } else if (sameEndpoint(current.info, event.entry)) this.table.renew(current, event.entry);
      else this.join(event.entry);
      return;
    }
    if (event.kind === 'updated') return this.applyAdmin(event.entry);
    const member = this.table.get(event.entry.id);
    if (member === undefined || member.info.generation !== event.entry.generation) return;
    if (event.kind === 'removed') {
      if (event.reason.kind === 'expired' && this.hold(member)) return;
      this.table.remove(member);
    } else this.markDraining(member);
  }

  /**
   * A registered member leaves (a failure, a leave, missed heartbeats, shutdown): the store is
   * told, and its event takes the member out, before this returns. A static member leaves at once.
   */
  leave(member: Member, reason: RemovalReason): void {
    if (member.id !== undefined && this.store !== undefined) void this.store.remove(member.id, member.info.generation, reason);
    // Not in the store (held, or a static member): out now.
    if (member.present) this.table.remove(member);
  }

  /** A registered member takes no new work; what it holds is still answered. Its owner removes it once idle. */
  drain(member: Member): void {
    if (member.id !== undefined && this.store !== undefined) void this.store.drain(member.id, member.info.generation);
    this.markDraining(member);
  }

  /**
   * An operator's change (the runtime API): a registered member's goes through the store, so
   * that every broker following it agrees (its event applies it here); a static member's is
   * this broker's own. Resolves false when the member's registration is gone.
   */
  async setAdmin(member: Member, change: AdminChange): Promise<boolean> {
    if (member.id !== undefined && this.store !== undefined) return this.store.setAdmin(member.id, member.info.generation, change);
    if (change.weight !== undefined) this.table.setWeight(member, change.weight);
    if (change.mode !== undefined) this.table.setAdmin(member, change.mode);
    return member.present;
  }

  /** Makes the static members those of `entries` (servers.conf, loaded or reloaded). */
  setStatic(entries: readonly StaticBackend[], defaultPolicy: number): ReloadResult {
    const plan = planStatic(this.statics, entries, defaultPolicy, Date.now());
    for (const [key, member] of plan.leave) {
      this.statics.delete(key);
      void this.drainStatic(member);
    }
    for (const [member, weight] of plan.reweight) this.table.setWeight(member, weight);
    for (const [key, member] of plan.join) {
      this.statics.set(key, member);
      this.table.add(member);
    }
    return { added: plan.join.length, removed: plan.leave.length, kept: plan.kept, reweighted: plan.reweight.length };
  }

  /** Takes every static member out at once (shutdown). */
  clearStatic(): void {
    for (const member of this.statics.values()) this.table.remove(member);
    this.statics.clear();
  }

  /** Takes every member out (shutdown of a broker whose store others keep: only this broker's view goes). */
  clear(): void {
    this.table.clear();
  }

  /** Ends every hold (the broker stops following the store). */
  close(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
  }

  // TableObserver: a held member registered again, removed or no longer reachable leaves the hold.

  renewed(member: Member): void {
    this.release(member);
  }

  removed(member: Member): void {
    this.release(member);
  }

  stateChanged(endpoint: Endpoint): void {
    const member = endpoint.member;
    if (endpoint.protocol !== 'packets' || endpoint.state === 'up' || !this.held.has(member)) return;
    this.release(member);
    this.table.remove(member);
  }

  /** A registered server joins, with what an operator asked of it through any broker. */
  private join(entry: ServerEntry): void {
    const member = new Member(entry);
    // Before it joins: its observers see it as it is, not enabled for a moment.
    if (entry.admin !== undefined) member.admin = entry.admin;
    this.table.add(member);
  }

  private applyAdmin(entry: ServerEntry): void {
    const member = this.table.get(entry.id);
    if (member === undefined || member.info.generation !== entry.generation) return;
    this.table.setWeight(member, entry.weight ?? 1);
    this.table.setAdmin(member, entry.admin ?? 'enabled');
  }

  private markDraining(member: Member): void {
    this.table.drain(member);
  }

  /** Drains a removed static member: no new requests, those in flight finish (up to drainMs), then it leaves. */
  private async drainStatic(member: Member): Promise<void> {
    this.table.setAdmin(member, 'drain');
    const idle = await waitUntil(() => (member.http?.outstanding ?? 0) === 0, this.options.drainMs ?? 0);
    if (!idle) this.options.log?.warn('HTTP server removed with requests in flight', { address: member.http?.address, policy: member.policy });
    this.table.remove(member);
  }

  /** Keeps a session member whose record expired while its link is up; false when it does not qualify. */
  private hold(member: Member): boolean {
    if (this.graceMs <= 0 || !member.info.session || member.packets?.state !== 'up') return false;
    if (this.held.has(member)) return true;
    const timer = setTimeout(() => {
      this.held.delete(member);
      this.table.remove(member);
    }, this.graceMs);
    timer.unref?.();
    this.held.set(member, timer);
    return true;
  }

  private release(member: Member): void {
    const timer = this.held.get(member);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.held.delete(member);
  }
}

/**
 * The expiry grace (FollowOptions.expiryGraceMs) of a broker's table: with a shared store, as long
 * as a session's heartbeats may go missed or a resync take, whichever is longer; none in memory.
 * One formula for the broker and its --workers workers, whose tables must hold the same members.
 */
export function expiryGraceMs(o: { shared: boolean; heartbeatMs: number; heartbeatMisses: number; resyncMs: number }): number {
  return o.shared ? Math.max(o.heartbeatMs * o.heartbeatMisses, 2 * o.resyncMs) : 0;
}

/**
 * Keeps `table` in step with `store` from now on; returns the unsubscribe. A Membership of its
 * own, observing the table (the --workers code calls this; the broker builds its Membership in
 * the composition root and orders its observers there).
 */
export function followStore(store: RegistryStore, table: PolicyTable, options: FollowOptions = {}): () => void {
  const membership = new Membership(table, options);
  table.observe(membership);
  return membership.follow(store);
}
