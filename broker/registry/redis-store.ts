/**
 * A registry store in Redis, shared by several brokers (docs/scale-out.md). Routing never waits
 * for Redis: each broker routes from its view (store-view.ts), which follows Redis three ways:
 * its own writes as they are answered, the hints other brokers publish (fast, but pub/sub may
 * lose them) and a full resync every `resyncMs` (slow, heals what the hints missed, and is how
 * an expired record leaves: Redis expires keys silently, and keyspace notifications are not
 * relied on).
 *
 * Each registration gets a generation chosen by the broker (its clock in µs, above every
 * generation it knows for the id) that the scripts accept only above the id's last one: so a
 * call about an older generation changes nothing, the newest registration of an id wins
 * whichever broker took it, and a registration taken while Redis was away keeps the generation
 * it was routed under when it is written back.
 *
 * While Redis does not answer, the broker is degraded: it routes from its view, takes
 * registrations, removals and drains locally, and writes them back when Redis answers again.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import type { Logger } from '../support/logger.js';
import type { RegistryConnection } from './redis-connection.js';
import { ScriptError } from './script-error.js';
import { GenerationClock } from './generation-clock.js';
import { encodeEntry, generationText } from './redis-record.js';
import { RegistryProblems } from './registry-problems.js';
import { recordKeys, REGISTER, registryKeys, UPDATE, type RegistryKeys } from './redis-scripts.js';
import { hint, parseHint } from './redis-hints.js';
import { PendingWrites } from './redis-writes.js';
import { Resync } from './redis-resync.js';
import { OwnedRecords } from './owned-records.js';
import { RedisOutage } from './redis-outage.js';
import { withAdmin } from './admin-change.js';
import { StoreView } from './store-view.js';
import { BrokerDirectory, type BrokerInfo } from './broker-directory.js';
import type { AdminChange, NewEntry, Registered, RegistryStore, RemovalReason, ServerEntry, StoreEvent } from './store.js';

export interface RedisStoreOptions {
  /** Key prefix: brokers with the same prefix share a registry. */
  prefix: string;
  /** This broker's id, written as the owner of the records it takes. */
  brokerId: string;
  /** Full resync, TTL renewal and write-back period. */
  resyncMs: number;
  logger: Logger;
  /** Where this broker listens, for the other brokers' status pages. */
  describe?: () => Pick<BrokerInfo, 'packet' | 'http' | 'startedAt'>;
  now?: () => number;
}

/** Tries of a registration that keeps meeting another broker's newer write. */
const REGISTER_TRIES = 5;

export class RedisStore implements RegistryStore {
  private readonly keys: RegistryKeys;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly view = new StoreView((event) => this.emit(event));
  private readonly owned = new OwnedRecords();
  private readonly pending: PendingWrites;
  private readonly problems: RegistryProblems;
  private readonly now: () => number;
  private readonly generations: GenerationClock;
  private timer: NodeJS.Timeout | undefined;
  private readonly resyncs: Resync;
  private readonly outage: RedisOutage;
  private closed = false;
  private connection: RegistryConnection = NOT_CONNECTED;
  private directory: BrokerDirectory | undefined;

  constructor(private readonly options: RedisStoreOptions) {
    this.keys = registryKeys(options.prefix);
    this.now = options.now ?? Date.now;
    this.generations = new GenerationClock(this.now, options.logger);
    this.problems = new RegistryProblems(options.logger);
    this.outage = new RedisOutage(options.logger, this.now);
    this.pending = new PendingWrites(this.keys, () => this.connection, this.problems);
    this.resyncs = new Resync({
      keys: this.keys, view: this.view, owned: this.owned, pending: this.pending, outage: this.outage, problems: this.problems, log: options.logger,
      connection: () => this.connection,
      directory: () => this.directory,
      closed: () => this.closed,
      decode: (id, generation, json, draining) => this.decode(id, generation, json, draining),
    });
  }

  /** Subscribes to the hints on `connection`, loads the registry, and starts the periodic resync. */
  async start(connection: RegistryConnection): Promise<void> {
    this.connection = connection;
    const describe = this.options.describe ?? (() => ({ packet: null, http: null, startedAt: this.now() }));
    this.directory = new BrokerDirectory(
      connection,
      this.keys,
      () => ({ ...describe(), id: this.options.brokerId, owns: this.owned.size, degraded: this.degraded }),
      this.options.resyncMs,
      this.options.logger,
    );
    await connection.subscribe(this.keys.channel, (message) => this.onHint(message));
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.resyncMs);
    this.timer.unref();
  }

  /** True while Redis does not answer; the view is then the last one seen. */
  get degraded(): boolean {
    return this.outage.degraded;
  }

  get degradedSinceMs(): number | undefined {
    return this.outage.sinceMs;
  }

  /** Called when the store becomes degraded (true) or answers again (false). */
  set onDegraded(listener: ((degraded: boolean) => void) | undefined) {
    this.outage.onChange = listener;
  }

  /** The brokers sharing this registry, as last seen (this one included). */
  brokers(): BrokerInfo[] {
    return this.directory?.list() ?? [];
  }

  /** Removals and drains waiting for Redis. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  async register(input: NewEntry, options: { ttlMs?: number } = {}): Promise<Registered> {
    const ttlMs = options.ttlMs === undefined ? 0 : Math.max(options.ttlMs, 2 * this.options.resyncMs);
    for (let attempt = 0; attempt < REGISTER_TRIES; attempt++) {
      const old = this.view.get(input.id);
      const entry: ServerEntry = { ...input, generation: this.generations.next(input.id, this.view.lastGeneration(input.id)), registeredAt: this.now(), draining: false };
      const expected = old?.generation ?? 0;
      let answer: unknown;
      try {
        if (this.degraded) throw new Error('degraded');
        answer = await this.connection.run(REGISTER, recordKeys(this.keys, entry.id), [
          String(entry.id),
          generationText(entry.generation),
          generationText(expected),
          encodeEntry(entry),
          String(ttlMs),
          hint({ k: 'a', id: entry.id, g: entry.generation, e: encodeEntry(entry) }),
          this.options.brokerId,
          entry.session ? '' : `${entry.host}|${entry.packetPort ?? -1}|${entry.policy}`,
          this.keys.prefix,
        ]);
      } catch (err) {
        if (err instanceof ScriptError) {
          // Redis answered: this is no outage, and the registration was not written.
          this.problems.scriptFailed('REGISTER', err);
          throw new ProtocolError(ErrorCode.UNAVAILABLE, `server id ${input.id}: the registry could not record it (${err.message}); try again`);
        }
        // Redis is away or slow: the registration holds locally and is written back later
        // (if Redis ran it after all, the write-back finds it there under the same generation).
        if (!this.degraded) this.setDegraded(err);
        return this.keep(entry, ttlMs, old);
      }
      const reply = answer as string[];
      if (reply[0] === 'ok') {
        if (reply[1]) this.problems.bad(`${input.id}:${reply[1]}`, `unreadable ${reply[1]} value, overwritten by a new registration`, this.keys.server(input.id));
        return this.keep(entry, ttlMs, old);
      }
      if (reply[0] === 'duplicate') {
        throw new ProtocolError(
          ErrorCode.DUPLICATE_ID,
          `server id ${input.id} is registered${reply[2] ? ` from ${reply[2]}` : ''} through another broker (${reply[1]}) that keeps it alive; it must leave or close its session first`,
        );
      }
      this.learn(input.id, reply);
    }
    throw new ProtocolError(ErrorCode.UNAVAILABLE, `server id ${input.id}: registration kept colliding with other brokers' writes; try again`);
  }

  async remove(id: number, generation: number, reason: RemovalReason): Promise<boolean> {
    this.owned.forget(id, generation);
    const removed = this.view.remove(id, generation, reason);
    await this.pending.write({ kind: 'remove', id, generation, reason }, this.degraded, (err) => this.setDegraded(err));
    return removed;
  }

  async drain(id: number, generation: number): Promise<boolean> {
    const drained = this.view.drain(id, generation);
    await this.pending.write({ kind: 'drain', id, generation }, this.degraded, (err) => this.setDegraded(err));
    return drained;
  }

  /**
   * Writes an operator's change to the record (UPDATE), then applies it to the view (its
   * event). Refused while Redis does not answer: a change only this broker saw would make the
   * brokers disagree, and come back undone with the next snapshot.
   */
  async setAdmin(id: number, generation: number, change: AdminChange): Promise<boolean> {
    const current = this.view.get(id);
    if (current?.generation !== generation) return false;
    if (this.degraded) throw new ProtocolError(ErrorCode.UNAVAILABLE, `server ${id}: the shared registry does not answer; the change is not made, try again`);
    const next = withAdmin(current, change);
    const e = encodeEntry(next);
    let answer: unknown;
    try {
      answer = await this.connection.run(UPDATE, [this.keys.server(id), this.keys.channel], [generationText(generation), encodeEntry(current), e, hint({ k: 'a', id, g: generation, e, d: current.draining })]);
    } catch (err) {
      if (err instanceof ScriptError) this.problems.scriptFailed('UPDATE', err);
      else this.setDegraded(err);
      throw new ProtocolError(ErrorCode.UNAVAILABLE, `server ${id}: the shared registry could not record the change (${(err as Error).message}); try again`);
    }
    if (answer === -1) {
      await this.tick();
      throw new ProtocolError(ErrorCode.UNAVAILABLE, `server ${id} was changed through another broker at the same time; try again`);
    }
    if (answer !== 1) return false;
    return this.view.update(next);
  }

  touch(): Promise<void> {
    // Every record this broker owns is renewed at each resync, in one round trip (ENSURE), for
    // as long as the broker holds it: its TTL only outlives a broker that died. A session that
    // stops heartbeating is the registrar's to remove.
    return Promise.resolve();
  }

  list(): Promise<ServerEntry[]> {
    return Promise.resolve([...this.view.values()]);
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the resync. The records stay: sessions expire by TTL, classic servers stay listed. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.resyncs.run();
    await this.directory?.retire();
  }

  /** One resync now (tests and the status page's refresh need not wait for the timer). */
  async resync(): Promise<void> {
    await this.tick();
  }

  private keep(entry: ServerEntry, ttlMs: number, old: ServerEntry | undefined): Registered {
    this.owned.keep(entry, ttlMs);
    this.generations.settled(entry.id);
    this.view.upsert(entry);
    return { entry, replaced: old };
  }

  /** A REGISTER answered "changed": take in what Redis holds for the id, and try again. */
  private learn(id: number, reply: string[]): void {
    this.generations.learn(id, reply[1] ?? '0');
    const live = reply[2] ?? '0';
    if (live === '0') {
      const current = this.view.get(id);
      if (current !== undefined && !this.owned.has(id)) this.view.remove(id, current.generation, { kind: 'expired' });
      return;
    }
    const entry = this.decode(String(id), live, reply[3] ?? '', reply[4] ?? '');
    if (entry !== undefined) this.view.upsert(entry);
  }

  private tick(): Promise<void> {
    return this.resyncs.run();
  }

  private onHint(message: string): void {
    const hint = parseHint(message);
    if (hint === undefined) return;
    if (hint.k === 'a' && typeof hint.e === 'string') {
      const entry = this.decode(String(hint.id), generationText(hint.g), hint.e, hint.d === true ? '1' : '');
      if (entry !== undefined && !this.owned.newerThan(entry)) this.view.upsert(entry);
    } else if (hint.k === 'r') {
      this.owned.forget(hint.id, hint.g);
      this.view.remove(hint.id, hint.g, { kind: 'left', detail: typeof hint.why === 'string' ? hint.why : 'removed' });
    } else if (hint.k === 'd') {
      this.view.drain(hint.id, hint.g);
    }
  }

  private decode(id: string, generation: string, json: string, draining: string): ServerEntry | undefined {
    return this.problems.decode(id, generation, json, draining, this.keys.server(Number(id)));
  }

  private setDegraded(err: unknown): void {
    if (!this.closed) this.outage.down(err);
  }

  private emit(event: StoreEvent): void {
    if (event.kind === 'draining' || event.kind === 'updated') this.owned.changed(event.entry);
    for (const listener of this.listeners) listener(event);
  }
}

/** Until start(): every call fails, as with a Redis that does not answer. */
const NOT_CONNECTED: RegistryConnection = {
  run: () => Promise.reject(new Error('the registry is not connected yet')),
  subscribe: () => Promise.reject(new Error('the registry is not connected yet')),
};
