/**
 * The HTTP backends of each policy and the choice of one per request. Two sources feed it:
 * registered servers that declared an `httpport` (kept in step with the registry, which it
 * observes) and the static servers of a servers.conf. Each policy has its own instance of the
 * broker's selection strategy, and every backend a state with the registry's names:
 *
 * - connecting: not yet confirmed by a check or a response; selectable.
 * - up: answering; selectable.
 * - down: refused, reset or timed out (passive), or failed --health-fall checks in a row
 *   (active); not selectable until --health-rise checks pass.
 *
 * A registered server is selectable only while its registry record is too (connecting or up):
 * a packet server that is draining, down or gone takes no HTTP requests either. The HTTP
 * state of a registered server does not move its packet state: the two are different ports.
 */
import type { Upstream } from './upstream.js';
import { isSelectable, type Endpoint, type Member, type MemberState } from '../routing/member.js';
import type { TableObserver } from '../routing/policy-table.js';
import { createStrategy, type Selectable, type SelectionStrategy, type StrategyName } from '../routing/strategies/index.js';
import type { StaticBackend } from '../support/servers-file.js';

export type BackendSource = 'registered' | 'static';

/** One HTTP server the broker proxies to. */
export class HttpBackend implements Selectable {
  /** Requests sent to it and not yet finished. */
  outstanding = 0;
  state: MemberState = 'connecting';
  /** Responses relayed from it. */
  served = 0;
  /** Failed requests and health checks. */
  failures = 0;
  /** Why it last failed, for the status page. */
  lastError: string | undefined;
  /** Passing and failing health checks in a row. */
  passes = 0;
  fails = 0;
  /** True while it is in its policy's strategy. */
  inSelection = false;
  /** False once removed from the table; its pool is closing. */
  present = true;
  /** The connection pool to it; set by the table. */
  dispatcher!: Upstream;
  /** `http://host:port`. */
  readonly origin: string;
  /** `host:port`, for logs and errors. */
  readonly address: string;
  /** How stats and metrics name it: the registered server's id, or the address of a static one. */
  readonly label: string;

  constructor(
    readonly policy: number,
    readonly host: string,
    readonly port: number,
    /** The table's member for a registered server; undefined for a static one. */
    readonly record: Member | undefined,
  ) {
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.address = this.origin.slice(7);
    this.label = record === undefined ? this.address : String(record.id);
  }

  get source(): BackendSource {
    return this.record === undefined ? 'static' : 'registered';
  }

  /** The registered server's id; undefined for a static backend. */
  get id(): number | undefined {
    return this.record?.id;
  }

  /** Whether the strategy may choose it now. */
  get selectable(): boolean {
    const packets = this.record?.packets;
    return isSelectable(this.state) && (packets === undefined || isSelectable(packets.state));
  }
}

/** The backends of one policy. */
export interface HttpPolicyGroup {
  readonly policy: number;
  readonly members: Set<HttpBackend>;
  readonly selector: SelectionStrategy<HttpBackend>;
}

export interface BackendTableEvents {
  /** A backend joined (open its connection pool here). */
  createDispatcher(backend: HttpBackend): Upstream;
  /** A backend left; in-flight requests may still finish on its pool. */
  removed(backend: HttpBackend): void;
  /** A backend changed state. */
  stateChanged(backend: HttpBackend, from: MemberState): void;
}

export class HttpBackendTable implements TableObserver {
  private readonly groups = new Map<number, HttpPolicyGroup>();
  private readonly byRecord = new Map<Member, HttpBackend>();

  constructor(
    private readonly strategy: StrategyName,
    private readonly defaultPolicy: number,
    private readonly events: BackendTableEvents,
  ) {}

  /** Adds a backend from a servers.conf entry. */
  addStatic(entry: StaticBackend): HttpBackend {
    const backend = new HttpBackend(entry.policy ?? this.defaultPolicy, entry.host, entry.port, undefined);
    this.add(backend);
    return backend;
  }

  /** The backend for the next request of `policy`, or undefined when none is selectable. */
  pick(policy: number): HttpBackend | undefined {
    return this.groups.get(policy)?.selector.pick();
  }

  /** Whether any backend, live or not, serves `policy`. */
  knows(policy: number): boolean {
    return this.groups.has(policy);
  }

  /** One more (delta 1) or one fewer (delta -1) request outstanding on a backend. */
  addOutstanding(backend: HttpBackend, delta: 1 | -1): void {
    const before = backend.outstanding;
    backend.outstanding = before + delta;
    if (backend.inSelection) this.groups.get(backend.policy)?.selector.outstandingChanged(backend, before);
  }

  /** Moves a backend to a new state, adding it to or taking it out of selection. */
  setState(backend: HttpBackend, state: MemberState): void {
    const from = backend.state;
    if (from === state) return;
    backend.state = state;
    this.refresh(backend);
    this.events.stateChanged(backend, from);
  }

  /** Every backend, any state. */
  *backends(): IterableIterator<HttpBackend> {
    for (const group of this.groups.values()) yield* group.members;
  }

  policies(): IterableIterator<HttpPolicyGroup> {
    return this.groups.values();
  }

  /** Removes every backend (shutdown). */
  clear(): void {
    for (const backend of [...this.backends()]) this.remove(backend);
  }

  // RegistryObserver: registered servers with an httpport.

  added(record: Member): void {
    if (record.info.httpPort === undefined || record.info.id === undefined) return;
    const backend = new HttpBackend(record.policy, record.host, record.info.httpPort, record);
    this.byRecord.set(record, backend);
    this.add(backend);
  }

  removed(record: Member): void {
    const backend = this.byRecord.get(record);
    if (backend === undefined) return;
    this.byRecord.delete(record);
    this.remove(backend);
  }

  stateChanged(endpoint: Endpoint): void {
    const backend = this.byRecord.get(endpoint.member);
    if (backend !== undefined) this.refresh(backend);
  }

  private add(backend: HttpBackend): void {
    let group = this.groups.get(backend.policy);
    if (group === undefined) {
      group = { policy: backend.policy, members: new Set(), selector: createStrategy<HttpBackend>(this.strategy) };
      this.groups.set(backend.policy, group);
    }
    backend.dispatcher = this.events.createDispatcher(backend);
    group.members.add(backend);
    this.refresh(backend);
  }

  private remove(backend: HttpBackend): void {
    const group = this.groups.get(backend.policy);
    if (group === undefined || !group.members.delete(backend)) return;
    if (backend.inSelection) group.selector.remove(backend);
    backend.inSelection = false;
    backend.present = false;
    if (group.members.size === 0) this.groups.delete(backend.policy);
    this.events.removed(backend);
  }

  private refresh(backend: HttpBackend): void {
    const selectable = backend.present && backend.selectable;
    if (selectable === backend.inSelection) return;
    const group = this.groups.get(backend.policy);
    if (group === undefined) return;
    backend.inSelection = selectable;
    if (selectable) group.selector.add(backend);
    else group.selector.remove(backend);
  }
}
