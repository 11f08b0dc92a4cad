/**
 * The policy table follows the registry store: an entry added becomes a member (or, for the
 * same server at the same endpoints registering again, renews its member: its links and
 * outstanding packets stay), an entry removed or draining takes its member out. An event about
 * an older generation of an id than the table holds is stale and changes nothing. The table may
 * already be ahead of the store (a broker takes a failed server out locally first, then tells
 * the store): applying the same change twice is a no-op.
 *
 * One exception, with a shared store: a session server whose record **expired** (its owner
 * broker stopped renewing it: it died, or lost Redis) while this broker's packet link to it is up
 * stays for `expiryGraceMs`, routable over that same connection. Such a server is usually alive
 * and registering again through another broker (refused until the old record expires, then
 * accepted): its registration then renews the member, and no link is torn down and dialed again
 * under load. It goes at once if its link leaves `up` (a new process on that port is not the
 * server that registered), when the grace ends, or when the store says anything else of it.
 */
import { Member, sameEndpoint, type Endpoint } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { RegistryStore, StoreEvent } from './store.js';

export interface FollowOptions {
  /** How long a session server whose record expired stays while its link is up; 0 (the default): not at all. */
  expiryGraceMs?: number;
}

class Membership implements TableObserver {
  /** Members whose record expired, kept through the grace: each with the timer that takes it out. */
  private readonly held = new Map<Member, NodeJS.Timeout>();

  constructor(
    private readonly table: PolicyTable,
    private readonly graceMs: number,
  ) {
    table.observe(this);
  }

  /** Applies one store event to the table. */
  apply(event: StoreEvent): void {
    if (event.kind === 'added') {
      const current = this.table.get(event.entry.id);
      if (current === undefined) this.table.add(new Member(event.entry));
      else if (current.info.generation >= event.entry.generation) {
        // A held record written back under its generation (its owner renewed it late): it stays.
        if (current.info.generation === event.entry.generation) this.release(current);
      } else if (sameEndpoint(current.info, event.entry)) this.table.renew(current, event.entry);
      else this.table.add(new Member(event.entry));
      return;
    }
    const member = this.table.get(event.entry.id);
    if (member === undefined || member.info.generation !== event.entry.generation) return;
    if (event.kind === 'removed') {
      if (event.reason.kind === 'expired' && this.hold(member)) return;
      this.table.remove(member);
    } else if (member.packets !== undefined) this.table.setState(member.packets, 'draining');
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

  /** Ends every hold (the broker stops following the store). */
  close(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
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

/** Keeps `table` in step with `store` from now on; returns the unsubscribe. */
export function followStore(store: RegistryStore, table: PolicyTable, options: FollowOptions = {}): () => void {
  const membership = new Membership(table, options.expiryGraceMs ?? 0);
  const unwatch = store.watch((event) => membership.apply(event));
  return () => {
    unwatch();
    membership.close();
  };
}
