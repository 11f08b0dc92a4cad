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
import { ScriptError, type RegistryConnection } from './redis-connection.js';
import { GenerationClock } from './generation-clock.js';
import { encodeEntry, generationText } from './redis-record.js';
import { RegistryProblems } from './registry-problems.js';
import { DRAIN, ENSURE, LIST, REGISTER, REMOVE, registryKeys, type RegistryKeys } from './redis-scripts.js';
import { StoreView } from './store-view.js';
import { BrokerDirectory, type BrokerInfo } from './broker-directory.js';
import type { NewEntry, Registered, RegistryStore, RemovalReason, ServerEntry, StoreEvent } from './store.js';

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

/** A record this broker keeps alive. */
interface Owned {
  entry: ServerEntry;
  ttlMs: number;
}

/** A removal or drain Redis has not confirmed yet. */
interface PendingChange {
  kind: 'remove' | 'drain';
  id: number;
  generation: number;
  reason?: RemovalReason;
}

/** Tries of a registration that keeps meeting another broker's newer write. */
const REGISTER_TRIES = 5;

export class RedisStore implements RegistryStore {
  private readonly keys: RegistryKeys;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly view = new StoreView((event) => this.emit(event));
  private readonly owned = new Map<number, Owned>();
  private readonly pending: PendingChange[] = [];
  private readonly problems: RegistryProblems;
  private readonly now: () => number;
  private readonly generations: GenerationClock;
  private epoch: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private degradedSince: number | undefined;
  private closed = false;
  private connection: RegistryConnection = NOT_CONNECTED;
  private directory: BrokerDirectory | undefined;
  /** Called when the store becomes degraded (true) or answers again (false). */
  onDegraded: ((degraded: boolean) => void) | undefined;

  constructor(private readonly options: RedisStoreOptions) {
    this.keys = registryKeys(options.prefix);
    this.now = options.now ?? Date.now;
    this.generations = new GenerationClock(this.now, options.logger);
    this.problems = new RegistryProblems(options.logger);
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
    return this.degradedSince !== undefined;
  }

  get degradedSinceMs(): number | undefined {
    return this.degradedSince;
  }

  /** The brokers sharing this registry, as last seen (this one included). */
  brokers(): BrokerInfo[] {
    return this.directory?.list() ?? [];
  }

  /** Removals and drains waiting for Redis. */
  get pendingWrites(): number {
    return this.pending.length;
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
        answer = await this.connection.run(REGISTER, this.recordKeys(entry.id), [
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
    if (this.owned.get(id)?.entry.generation === generation) this.owned.delete(id);
    const removed = this.view.remove(id, generation, reason);
    await this.write({ kind: 'remove', id, generation, reason });
    return removed;
  }

  async drain(id: number, generation: number): Promise<boolean> {
    const own = this.owned.get(id);
    if (own?.entry.generation === generation) own.entry = { ...own.entry, draining: true };
    const drained = this.view.drain(id, generation);
    await this.write({ kind: 'drain', id, generation });
    return drained;
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
    await this.ticking;
    await this.directory?.retire();
  }

  /** One resync now (tests and the status page's refresh need not wait for the timer). */
  async resync(): Promise<void> {
    await this.tick();
  }

  private keep(entry: ServerEntry, ttlMs: number, old: ServerEntry | undefined): Registered {
    this.owned.set(entry.id, { entry, ttlMs });
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

  /** Sends a removal or drain now, or keeps it for the next tick when Redis does not answer. */
  private async write(change: PendingChange): Promise<void> {
    if (this.degraded) {
      this.pending.push(change);
      return;
    }
    try {
      await this.send(change);
    } catch (err) {
      this.pending.push(change);
      if (err instanceof ScriptError) this.problems.scriptFailed(change.kind, err);
      else this.setDegraded(err);
    }
  }

  private async send(change: PendingChange): Promise<void> {
    const gen = generationText(change.generation);
    if (change.kind === 'remove') {
      const why = change.reason === undefined ? 'removed' : change.reason.kind;
      await this.connection.run(REMOVE, this.recordKeys(change.id), [String(change.id), gen, hint({ k: 'r', id: change.id, g: change.generation, why })]);
    } else {
      await this.connection.run(DRAIN, [this.keys.server(change.id), this.keys.channel], [gen, hint({ k: 'd', id: change.id, g: change.generation })]);
    }
  }

  private recordKeys(id: number): string[] {
    return [this.keys.server(id), this.keys.servers, this.keys.generations, this.keys.channel];
  }

  private tick(): Promise<void> {
    this.ticking ??= this.resyncOnce().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** Writes back what waits, renews and writes back owned records, then reads everything. */
  private async resyncOnce(afterLoss = false): Promise<void> {
    if (this.closed) return;
    try {
      while (this.pending.length > 0) {
        try {
          await this.send(this.pending[0]!);
        } catch (err) {
          // Redis answered with an error: the same call would fail again, so it is not kept.
          if (!(err instanceof ScriptError)) throw err;
          this.problems.scriptFailed(this.pending[0]!.kind, err);
        }
        this.pending.shift();
      }
      await this.ensureOwned();
      const token = this.view.snapshotToken();
      const reply = (await this.connection.run(LIST, [this.keys.servers, this.keys.epoch], [this.keys.prefix, randomEpoch()])) as string[];
      const epoch = reply[0]!;
      if (this.epoch !== undefined && epoch !== this.epoch) {
        // Redis lost its data: put back what this broker knows before trusting a snapshot.
        this.options.logger.warn('registry: Redis lost its data (restarted without persistence?); writing back this broker\'s view', {
          servers: this.view.size,
        });
        this.epoch = epoch;
        await this.ensureOwned(true);
        if (!afterLoss) await this.resyncOnce(true);
        return;
      }
      this.epoch = epoch;
      const snapshot: ServerEntry[] = [];
      for (let i = 1; i + 3 < reply.length; i += 4) {
        const entry = this.decode(reply[i]!, reply[i + 1]!, reply[i + 2]!, reply[i + 3]!);
        if (entry !== undefined) snapshot.push(entry);
      }
      // Right after Redis lost its data, the other brokers may not have written theirs back
      // yet: nothing expires on this snapshot.
      this.view.applySnapshot(snapshot, token, (id) => afterLoss || this.owned.has(id));
      if (this.degraded) this.setBack();
      await this.directory?.announce();
    } catch (err) {
      if (this.closed) return;
      if (err instanceof ScriptError) this.problems.scriptFailed('resync', err);
      else this.setDegraded(err);
    }
  }

  /**
   * Renews the TTL of every owned record and writes back those Redis lost; with `everything`,
   * also the classic records of the view that others own (after Redis lost its data: their
   * owners may be gone). A record a newer registration or a removal superseded leaves.
   */
  private async ensureOwned(everything = false): Promise<void> {
    const items: Owned[] = [...this.owned.values()];
    if (everything) {
      for (const entry of this.view.values()) {
        if (!this.owned.has(entry.id) && !entry.session) items.push({ entry, ttlMs: 0 });
      }
    }
    if (items.length === 0) return;
    const args = [this.keys.prefix];
    for (const { entry, ttlMs } of items) {
      args.push(
        String(entry.id),
        generationText(entry.generation),
        String(ttlMs),
        encodeEntry(entry),
        entry.draining ? '1' : '0',
        hint({ k: 'a', id: entry.id, g: entry.generation, e: encodeEntry(entry), d: entry.draining }),
      );
    }
    const keys = [this.keys.servers, this.keys.servers, this.keys.generations, this.keys.channel];
    const answers = (await this.connection.run(ENSURE, keys, args)) as string[];
    items.forEach((item, i) => {
      const answer = answers[i];
      const { entry } = item;
      if (answer === 'ok' || answer === 'written') return;
      if (this.owned.get(entry.id)?.entry.generation === entry.generation) this.owned.delete(entry.id);
      // Superseded: the snapshot that follows brings the newer registration (or its absence).
      if (answer === 'removed') this.view.remove(entry.id, entry.generation, { kind: 'left', detail: 'removed by another broker' });
    });
  }

  private onHint(message: string): void {
    let hint: Hint;
    try {
      hint = JSON.parse(message) as Hint;
    } catch {
      return;
    }
    if (typeof hint.id !== 'number' || typeof hint.g !== 'number') return;
    if (hint.k === 'a' && typeof hint.e === 'string') {
      const entry = this.decode(String(hint.id), generationText(hint.g), hint.e, hint.d === true ? '1' : '');
      if (entry !== undefined && !this.ownedNewer(entry)) this.view.upsert(entry);
    } else if (hint.k === 'r') {
      if (this.owned.get(hint.id)?.entry.generation === hint.g) this.owned.delete(hint.id);
      this.view.remove(hint.id, hint.g, { kind: 'left', detail: typeof hint.why === 'string' ? hint.why : 'removed' });
    } else if (hint.k === 'd') {
      this.view.drain(hint.id, hint.g);
    }
  }

  /** An owned registration not yet written back is newer than any hint about a lower generation. */
  private ownedNewer(entry: ServerEntry): boolean {
    const own = this.owned.get(entry.id);
    return own !== undefined && own.entry.generation > entry.generation;
  }

  private decode(id: string, generation: string, json: string, draining: string): ServerEntry | undefined {
    return this.problems.decode(id, generation, json, draining, this.keys.server(Number(id)));
  }

  private setDegraded(err: unknown): void {
    if (this.degraded || this.closed) return;
    this.degradedSince = this.now();
    this.options.logger.warn('registry: Redis does not answer; routing from the last view, registrations kept locally until it is back', {
      error: err instanceof Error ? err.message : String(err),
    });
    this.onDegraded?.(true);
  }

  private setBack(): void {
    const since = this.degradedSince ?? this.now();
    this.degradedSince = undefined;
    this.options.logger.info('registry: Redis answers again; local changes written back', { degradedMs: this.now() - since });
    this.onDegraded?.(false);
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A change hint as published: k added / removed / draining, the id and generation. */
interface Hint {
  k: 'a' | 'r' | 'd';
  id: number;
  g: number;
  /** Added: the entry JSON. */
  e?: string;
  d?: boolean;
  why?: string;
}

function hint(h: Hint): string {
  return JSON.stringify(h);
}

/** Until start(): every call fails, as with a Redis that does not answer. */
const NOT_CONNECTED: RegistryConnection = {
  run: () => Promise.reject(new Error('the registry is not connected yet')),
  subscribe: () => Promise.reject(new Error('the registry is not connected yet')),
};

function randomEpoch(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
