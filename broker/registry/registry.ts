/**
 * The table of servers grouped by policy. Pure data: no sockets, no timers. The packet and
 * HTTP front ends ask it for a server per request and tell it when a server's state changes.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import type { Registration } from '../protocol/packet-types.js';
import { isSelectable, type ServerRecord, type ServerState } from './server-record.js';
import { createStrategy, type SelectionStrategy, type StrategyName } from './strategies/index.js';

/** The servers of one policy: all of them, and the selectable ones inside the strategy. */
export interface PolicyGroup {
  readonly policy: number;
  readonly members: Set<ServerRecord>;
  readonly selector: SelectionStrategy<ServerRecord>;
}

export interface Registered {
  record: ServerRecord;
  /** The record this registration replaced (same id, re-registering), to be torn down. */
  replaced: ServerRecord | undefined;
}

export type PickResult = { server: ServerRecord } | { missing: 'unknown-policy' | 'no-live-server' };

/** Told of every change to the table, after it is made (the HTTP front end keeps its backends in step). */
export interface RegistryObserver {
  added(record: ServerRecord): void;
  removed(record: ServerRecord): void;
  stateChanged(record: ServerRecord): void;
}

export class Registry {
  private readonly groups = new Map<number, PolicyGroup>();
  private readonly byId = new Map<number, ServerRecord>();
  private readonly observers: RegistryObserver[] = [];

  constructor(
    readonly strategy: StrategyName = 'round-robin',
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Adds a server. The same id may register again from the same host (a restart) and replaces
   * the old record; from another host it is refused while the old one is not down, so a
   * stranger cannot steal a live server's traffic.
   */
  register(reg: Registration, host: string): Registered {
    const existing = this.byId.get(reg.id);
    if (existing !== undefined && existing.host !== host && existing.state !== 'down') {
      throw new ProtocolError(ErrorCode.DUPLICATE_ID, `server id ${reg.id} is already registered from ${existing.host}`);
    }
    if (existing !== undefined) this.remove(existing);
    const now = this.now();
    const record: ServerRecord = {
      id: reg.id,
      policy: reg.policy,
      host,
      port: reg.listenport,
      maxInflight: reg.maxInflight,
      httpPort: reg.httpport,
      session: reg.session,
      tls: reg.tls ?? false,
      registeredAt: now,
      state: 'connecting',
      outstanding: 0,
      served: 0,
      failures: 0,
      heartbeats: 0,
      lastSeenAt: now,
    };
    this.byId.set(record.id, record);
    const group = this.group(record.policy);
    group.members.add(record);
    group.selector.add(record);
    for (const observer of this.observers) observer.added(record);
    return { record, replaced: existing };
  }

  /** Adds an observer of registrations, removals and state changes. */
  observe(observer: RegistryObserver): void {
    this.observers.push(observer);
  }

  /** Removes a server for good; returns false when it was no longer registered. */
  remove(record: ServerRecord): boolean {
    if (this.byId.get(record.id) !== record) return false;
    this.byId.delete(record.id);
    const group = this.groups.get(record.policy);
    if (group !== undefined) {
      group.members.delete(record);
      group.selector.remove(record);
      if (group.members.size === 0) this.groups.delete(record.policy);
    }
    for (const observer of this.observers) observer.removed(record);
    return true;
  }

  /** Moves a server to a new state, adding it to or taking it out of selection. */
  setState(record: ServerRecord, state: ServerState): void {
    if (record.state === state) return;
    const wasSelectable = isSelectable(record.state);
    record.state = state;
    const group = this.groups.get(record.policy);
    if (group === undefined || !group.members.has(record)) return;
    if (isSelectable(state) && !wasSelectable) group.selector.add(record);
    else if (!isSelectable(state) && wasSelectable) group.selector.remove(record);
    for (const observer of this.observers) observer.stateChanged(record);
  }

  /** One server for the next request of `policy`, chosen by the strategy. */
  pick(policy: number): PickResult {
    const group = this.groups.get(policy);
    if (group === undefined) return { missing: 'unknown-policy' };
    const server = group.selector.pick();
    return server === undefined ? { missing: 'no-live-server' } : { server };
  }

  /** Records one more (delta 1) or one fewer (delta -1) outstanding request on a server. */
  addOutstanding(record: ServerRecord, delta: 1 | -1): void {
    const before = record.outstanding;
    record.outstanding = before + delta;
    this.groups.get(record.policy)?.selector.outstandingChanged(record, before);
  }

  get(id: number): ServerRecord | undefined {
    return this.byId.get(id);
  }

  /** Every registered server, any state. */
  servers(): IterableIterator<ServerRecord> {
    return this.byId.values();
  }

  policies(): IterableIterator<PolicyGroup> {
    return this.groups.values();
  }

  get size(): number {
    return this.byId.size;
  }

  private group(policy: number): PolicyGroup {
    let group = this.groups.get(policy);
    if (group === undefined) {
      group = { policy, members: new Set(), selector: createStrategy<ServerRecord>(this.strategy) };
      this.groups.set(policy, group);
    }
    return group;
  }
}
