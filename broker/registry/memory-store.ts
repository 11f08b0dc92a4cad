/**
 * The registry store of one broker process: a Map. Watchers are called synchronously inside
 * the call that made the change (before its first await: there is none), so a table that
 * watches this store is in step as soon as the call returns. No TTLs: sessions are followed by the registrar's heartbeat sweep.
 */
import { withAdmin } from './admin-change.js';
import type { AdminChange, NewEntry, Registered, RegistryStore, RemovalReason, ServerEntry, StoreEvent } from './store.js';

export class MemoryStore implements RegistryStore {
  private readonly entries = new Map<number, ServerEntry>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private generation = 0;

  constructor(private readonly now: () => number = Date.now) {}

  register(input: NewEntry): Registered {
    const old = this.entries.get(input.id);
    const entry: ServerEntry = { ...input, generation: ++this.generation, registeredAt: this.now(), draining: false };
    this.entries.set(entry.id, entry);
    this.emit({ kind: 'added', entry, replaced: old });
    return { entry, replaced: old };
  }

  async remove(id: number, generation: number, reason: RemovalReason): Promise<boolean> {
    const entry = this.current(id, generation);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.emit({ kind: 'removed', entry, reason });
    return true;
  }

  async drain(id: number, generation: number): Promise<boolean> {
    const entry = this.current(id, generation);
    if (entry === undefined || entry.draining) return false;
    const drained = { ...entry, draining: true };
    this.entries.set(id, drained);
    this.emit({ kind: 'draining', entry: drained });
    return true;
  }

  async setAdmin(id: number, generation: number, change: AdminChange): Promise<boolean> {
    const entry = this.current(id, generation);
    if (entry === undefined) return false;
    const updated = withAdmin(entry, change);
    this.entries.set(id, updated);
    this.emit({ kind: 'updated', entry: updated });
    return true;
  }

  async touch(): Promise<void> {}

  async list(): Promise<ServerEntry[]> {
    return [...this.entries.values()];
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
