/**
 * The registry store of one broker process: a Map. Watchers are called synchronously inside
 * the call that made the change, so a table that watches this store is in step before the
 * call's promise settles. No TTLs: sessions are followed by the registrar's heartbeat sweep.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import type { NewEntry, Registered, RegistryStore, RemovalReason, ServerEntry, StoreEvent } from './store.js';

export class MemoryStore implements RegistryStore {
  private readonly entries = new Map<number, ServerEntry>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private generation = 0;

  constructor(private readonly now: () => number = Date.now) {}

  register(input: NewEntry, options: { isLive?: (old: ServerEntry) => boolean } = {}): Promise<Registered> {
    try {
      return Promise.resolve(this.registerNow(input, options.isLive));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** register(), synchronously: the memory store needs no round trip. */
  registerNow(input: NewEntry, isLive: (old: ServerEntry) => boolean = () => true): Registered {
    const old = this.entries.get(input.id);
    if (old !== undefined && old.host !== input.host && isLive(old)) {
      throw new ProtocolError(ErrorCode.DUPLICATE_ID, `server id ${input.id} is already registered from ${old.host}`);
    }
    const entry: ServerEntry = { ...input, generation: ++this.generation, registeredAt: this.now(), draining: false };
    this.entries.set(entry.id, entry);
    this.emit({ kind: 'added', entry, replaced: old });
    return { entry, replaced: old };
  }

  remove(id: number, generation: number, reason: RemovalReason): Promise<boolean> {
    return Promise.resolve(this.removeNow(id, generation, reason));
  }

  /** remove(), synchronously. */
  removeNow(id: number, generation: number, reason: RemovalReason): boolean {
    const entry = this.current(id, generation);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.emit({ kind: 'removed', entry, reason });
    return true;
  }

  drain(id: number, generation: number): Promise<boolean> {
    return Promise.resolve(this.drainNow(id, generation));
  }

  /** drain(), synchronously. */
  drainNow(id: number, generation: number): boolean {
    const entry = this.current(id, generation);
    if (entry === undefined || entry.draining) return false;
    const drained = { ...entry, draining: true };
    this.entries.set(id, drained);
    this.emit({ kind: 'draining', entry: drained });
    return true;
  }

  touch(): Promise<void> {
    return Promise.resolve();
  }

  list(): Promise<ServerEntry[]> {
    return Promise.resolve([...this.entries.values()]);
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private current(id: number, generation: number): ServerEntry | undefined {
    const entry = this.entries.get(id);
    return entry?.generation === generation ? entry : undefined;
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
