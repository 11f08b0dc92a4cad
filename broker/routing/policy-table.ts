/**
 * The table of members grouped by policy, for both protocols. Pure data: no sockets, no
 * timers. Each policy has one strategy instance per protocol, holding that protocol's
 * selectable endpoints; the table keeps every strategy in step with states and outstanding
 * counts. It is the only place an outstanding count changes (acquire, release).
 */
import { PROTOCOLS, sameEndpoint, weightProblem, type AdminMode, type Endpoint, type Member, type MemberInfo, type MemberState, type Protocol } from './member.js';
import { markJoined, writeInSelection, writeOutstanding, writeState } from './endpoint-writes.js';
import { createStrategy, type SelectionStrategy, type StrategyName } from './strategies/index.js';

/** The members of one policy, and per protocol the selectable endpoints and how many there are. */
export interface PolicyGroup {
  readonly policy: number;
  readonly members: Set<Member>;
  readonly selectors: Record<Protocol, SelectionStrategy<Endpoint>>;
  /** Members serving each protocol, live or not. */
  readonly serving: Record<Protocol, number>;
}

export type PickResult = Endpoint | 'unknown-policy' | 'no-live-server';

/** Told of every change to the table, after it is made. */
export interface TableObserver {
  added?(member: Member): void;
  removed?(member: Member): void;
  stateChanged?(endpoint: Endpoint, from: MemberState): void;
  /** The operator drained, disabled or enabled a member. */
  adminChanged?(member: Member, from: AdminMode): void;
  /** The same server registered again: the member, its endpoints and what they hold stay; `from` was its info. */
  renewed?(member: Member, from: MemberInfo): void;
}

export class PolicyTable {
  private readonly groups = new Map<number, PolicyGroup>();
  private readonly byId = new Map<number, Member>();
  private readonly observers: TableObserver[] = [];

  constructor(readonly strategy: StrategyName = 'round-robin') {}

  /**
   * Adds an observer of additions, removals and state changes. Observers react in the order
   * they were added, and some react to what others did: the composition root (broker.ts
   * `observeTable`) adds them from one ordered list (docs/architecture.md).
   */
  observe(observer: TableObserver): void {
    this.observers.push(observer);
  }

  /** Adds `observers` in this order, each first told of the members already in the table (a front end started later). */
  observeInOrder(observers: readonly TableObserver[]): void {
    for (const observer of observers) {
      for (const member of this.members()) observer.added?.(member);
      this.observe(observer);
    }
  }

  /**
   * Adds a member. A registered one replaces any member with its id, after it is in: what the
   * old one held is re-routed as it leaves, and may go to the new one.
   */
  add(member: Member): void {
    const old = member.id === undefined ? undefined : this.byId.get(member.id);
    if (member.id !== undefined) this.byId.set(member.id, member);
    const group = this.group(member.policy);
    group.members.add(member);
    for (const protocol of PROTOCOLS) {
      const endpoint = member.endpoint(protocol);
      if (endpoint === undefined) continue;
      group.serving[protocol]++;
      markJoined(endpoint);
    }
    this.refresh(member);
    for (const o of this.observers) o.added?.(member);
    if (old !== undefined) this.remove(old);
  }

  /**
   * The same server registered again (same id, policy, host, ports and tls: sameEndpoint), e.g.
   * moving to another broker: it stays the same member, with its endpoints, their states,
   * outstanding counts and admin mode, so the front ends keep its links and what they hold.
   * Only its info is the new registration's (generation, registeredAt, maxInflight, session,
   * weight); an endpoint that was draining takes work again.
   */
  renew(member: Member, info: MemberInfo): void {
    if (!member.present || !sameEndpoint(member.info, info)) throw new Error(`server ${String(info.id)}: renew() takes the same server at the same endpoints, present in the table`);
    const from = member.info;
    member.info = info;
    if ((info.weight ?? 1) !== (from.weight ?? 1)) this.setWeight(member, info.weight ?? 1);
    for (const protocol of PROTOCOLS) {
      const endpoint = member.endpoint(protocol);
      if (endpoint?.state === 'draining') this.setState(endpoint, 'connecting');
    }
    for (const o of this.observers) o.renewed?.(member, from);
  }

  /** Removes a member; returns false when it was no longer in the table. */
  remove(member: Member): boolean {
    const group = this.groups.get(member.policy);
    if (group === undefined || !group.members.delete(member)) return false;
    if (member.id !== undefined && this.byId.get(member.id) === member) this.byId.delete(member.id);
    member.present = false;
    for (const protocol of PROTOCOLS) {
      const endpoint = member.endpoint(protocol);
      if (endpoint === undefined) continue;
      group.serving[protocol]--;
      if (endpoint.inSelection) group.selectors[protocol].remove(endpoint);
      writeInSelection(endpoint, false);
    }
    if (group.members.size === 0) this.groups.delete(member.policy);
    for (const o of this.observers) o.removed?.(member);
    return true;
  }

  /**
   * Moves an endpoint to a new state, adding it to or taking it out of selection. Private:
   * routing/'s own. The front ends and checks report verdicts to Liveness (liveness.ts), which
   * moves states through endpoint-writes.ts `moveState`; membership drains with drain().
   */
  private setState(endpoint: Endpoint, state: MemberState): void {
    const from = endpoint.state;
    if (from === state) return;
    writeState(endpoint, state);
    if (!endpoint.member.present) return;
    this.refresh(endpoint.member);
    for (const o of this.observers) o.stateChanged?.(endpoint, from);
  }

  /** The member is leaving (membership: the store says it drains): its packet endpoint takes no new work; what it holds is answered. */
  drain(member: Member): void {
    if (member.present && member.packets !== undefined) this.setState(member.packets, 'draining');
  }

  /** Drains, disables or enables a member (the runtime API): only enabled members are picked. */
  setAdmin(member: Member, mode: AdminMode): void {
    const from = member.admin;
    if (from === mode) return;
    member.admin = mode;
    if (!member.present) return;
    this.refresh(member);
    for (const o of this.observers) o.adminChanged?.(member, from);
  }

  /** Gives a member a new weight (1-1000); the strategies follow it from the next pick. */
  setWeight(member: Member, weight: number): void {
    const problem = weightProblem(weight);
    if (problem !== undefined) throw new RangeError(problem);
    if (member.weight === weight) return;
    member.weight = weight;
    const group = this.groups.get(member.policy);
    if (group === undefined || !member.present) return;
    for (const protocol of PROTOCOLS) {
      const endpoint = member.endpoint(protocol);
      if (endpoint?.inSelection === true) group.selectors[protocol].weightChanged(endpoint);
    }
  }

  /** The endpoint of `protocol` for the next request of `policy`, chosen by the strategy. */
  pick(policy: number, protocol: Protocol): PickResult {
    const group = this.groups.get(policy);
    if (group === undefined || group.serving[protocol] === 0) return 'unknown-policy';
    return group.selectors[protocol].pick() ?? 'no-live-server';
  }

  /** How many endpoints of `protocol` for `policy` are selectable (connecting or up). */
  live(policy: number, protocol: Protocol): number {
    return this.groups.get(policy)?.selectors[protocol].size ?? 0;
  }

  /** A selectable endpoint of `protocol` for `policy` other than `not`, if any (a walk of the policy's members: for retries only). */
  otherLive(policy: number, protocol: Protocol, not: Endpoint): Endpoint | undefined {
    for (const member of this.groups.get(policy)?.members ?? []) {
      const endpoint = member.endpoint(protocol);
      if (endpoint !== undefined && endpoint !== not && member.selectable(endpoint)) return endpoint;
    }
    return undefined;
  }

  /** Whether any member, live or not, serves `protocol` for `policy`. */
  knows(policy: number, protocol: Protocol): boolean {
    const group = this.groups.get(policy);
    return group !== undefined && group.serving[protocol] > 0;
  }

  /** One more request or packet outstanding on an endpoint. */
  acquire(endpoint: Endpoint): void {
    this.moveOutstanding(endpoint, 1);
  }

  /** One fewer request or packet outstanding on an endpoint. */
  release(endpoint: Endpoint): void {
    this.moveOutstanding(endpoint, -1);
  }

  /** The registered member with this id. */
  get(id: number): Member | undefined {
    return this.byId.get(id);
  }

  /** Every member, any state. */
  *members(): IterableIterator<Member> {
    for (const group of this.groups.values()) yield* group.members;
  }

  /** Every endpoint of `protocol`, any state. */
  *endpoints(protocol: Protocol): IterableIterator<Endpoint> {
    for (const member of this.members()) {
      const endpoint = member.endpoint(protocol);
      if (endpoint !== undefined) yield endpoint;
    }
  }

  policies(): IterableIterator<PolicyGroup> {
    return this.groups.values();
  }

  /** Removes every member (shutdown). */
  clear(): void {
    for (const member of [...this.members()]) this.remove(member);
  }

  private moveOutstanding(endpoint: Endpoint, delta: 1 | -1): void {
    const before = endpoint.outstanding;
    writeOutstanding(endpoint, before + delta);
    if (endpoint.inSelection) this.groups.get(endpoint.member.policy)?.selectors[endpoint.protocol].outstandingChanged(endpoint, before);
  }

  /** Puts each endpoint of the member in selection or out, as its state says. */
  private refresh(member: Member): void {
    const group = this.groups.get(member.policy);
    if (group === undefined) return;
    for (const protocol of PROTOCOLS) {
      const endpoint = member.endpoint(protocol);
      if (endpoint === undefined) continue;
      const selectable = member.selectable(endpoint);
      if (selectable === endpoint.inSelection) continue;
      writeInSelection(endpoint, selectable);
      if (selectable) group.selectors[protocol].add(endpoint);
      else group.selectors[protocol].remove(endpoint);
    }
  }

  private group(policy: number): PolicyGroup {
    let group = this.groups.get(policy);
    if (group === undefined) {
      group = {
        policy,
        members: new Set(),
        selectors: { packets: createStrategy<Endpoint>(this.strategy), http: createStrategy<Endpoint>(this.strategy) },
        serving: { packets: 0, http: 0 },
      };
      this.groups.set(policy, group);
    }
    return group;
  }
}
