/**
 * A read-only RegistryStore that repeats another process's store: a --workers worker's registry,
 * fed over IPC by the primary, which owns the real one (memory, or Redis with --registry). It is
 * given that store's list() once (load), then every event its watch() gives, whatever their kind
 * (apply); the worker's table follows it with followStore() (membership.ts), exactly as a second
 * broker's table follows a shared Redis registry. Registrations are the owner's: writes here are
 * refused.
 */
import type { Registered, RegistryStore, ServerEntry, StoreEvent } from './store.js';

export class ReadOnlyStoreError extends Error {
  constructor(call: string) {
    super(`${call}: a --workers worker's registry is read-only (the primary process takes registrations)`);
  }
}

export class RelayedStore implements RegistryStore {
  private readonly entries = new Map<number, ServerEntry>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  /** The primary's entries now (its list()), told to the watchers as registrations. */
  load(entries: readonly ServerEntry[]): void {
    for (const entry of entries) {
      this.apply({ kind: 'added', entry: { ...entry, draining: false }, replaced: undefined });
      if (entry.draining) this.apply({ kind: 'draining', entry });
    }
  }

  /** One event of the primary's store, in the order it gave them. */
  apply(event: StoreEvent): void {
    if (event.kind === 'removed') {
      if (this.entries.get(event.entry.id)?.generation === event.entry.generation) this.entries.delete(event.entry.id);
    } else if ('entry' in event) {
      // Any other kind (added, draining, and kinds to come) carries the entry as it is now.
      this.entries.set(event.entry.id, event.entry);
    }
    for (const listener of this.listeners) listener(event);
  }

  register(): Registered {
    throw new ReadOnlyStoreError('register');
  }

  remove(): Promise<boolean> {
    return Promise.reject(new ReadOnlyStoreError('remove'));
  }

  drain(): Promise<boolean> {
    return Promise.reject(new ReadOnlyStoreError('drain'));
  }

  touch(): Promise<void> {
    return Promise.reject(new ReadOnlyStoreError('touch'));
  }

  setAdmin(): Promise<boolean> {
    return Promise.reject(new ReadOnlyStoreError('setAdmin'));
  }

  list(): Promise<ServerEntry[]> {
    return Promise.resolve([...this.entries.values()]);
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
