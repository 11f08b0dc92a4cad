/**
 * The records one broker keeps alive in a shared registry: those it registered (and, after
 * Redis lost its data, the classic records it saw, whose owners may be gone). Each resync
 * renews their TTLs and writes back those Redis lost, in one round trip (ENSURE), unless a
 * newer registration or a removal superseded them. A change this broker or another makes to one
 * of them (drain, an operator's change) is kept here too, so a write-back writes it as it is.
 */
import type { RegistryConnection } from './redis-connection.js';
import { hint } from './redis-hints.js';
import { encodeEntry, generationText } from './redis-record.js';
import { ENSURE, type RegistryKeys } from './redis-scripts.js';
import type { StoreView } from './store-view.js';
import type { ServerEntry } from './store.js';

/** A record this broker keeps alive. */
interface Owned {
  entry: ServerEntry;
  ttlMs: number;
}

export class OwnedRecords {
  private readonly records = new Map<number, Owned>();

  get size(): number {
    return this.records.size;
  }

  has(id: number): boolean {
    return this.records.has(id);
  }

  keep(entry: ServerEntry, ttlMs: number): void {
    this.records.set(entry.id, { entry, ttlMs });
  }

  /** The record of `id` left (if still `generation`). */
  forget(id: number, generation: number): void {
    if (this.records.get(id)?.entry.generation === generation) this.records.delete(id);
  }

  /** The record is now `entry` (the same generation: drained, or changed by an operator). */
  changed(entry: ServerEntry): void {
    const own = this.records.get(entry.id);
    if (own?.entry.generation === entry.generation) own.entry = entry;
  }

  /** An owned registration not yet written back is newer than any hint about a lower generation. */
  newerThan(entry: ServerEntry): boolean {
    const own = this.records.get(entry.id);
    return own !== undefined && own.entry.generation > entry.generation;
  }

  /**
   * Renews the TTL of every owned record and writes back those Redis lost; with `everything`,
   * also the classic records of the view that others own (after Redis lost its data: their
   * owners may be gone). A record a newer registration or a removal superseded leaves.
   */
  async ensure(connection: RegistryConnection, keys: RegistryKeys, view: StoreView, everything = false): Promise<void> {
    const items: Owned[] = [...this.records.values()];
    if (everything) {
      for (const entry of view.values()) {
        if (!this.records.has(entry.id) && !entry.session) items.push({ entry, ttlMs: 0 });
      }
    }
    if (items.length === 0) return;
    const args = [keys.prefix];
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
    const answers = (await connection.run(ENSURE, [keys.servers, keys.servers, keys.generations, keys.channel], args)) as string[];
    items.forEach((item, i) => {
      const answer = answers[i];
      const { entry } = item;
      if (answer === 'ok' || answer === 'written') return;
      this.forget(entry.id, entry.generation);
      // Superseded: the snapshot that follows brings the newer registration (or its absence).
      if (answer === 'removed') view.remove(entry.id, entry.generation, { kind: 'left', detail: 'removed by another broker' });
    });
  }
}
