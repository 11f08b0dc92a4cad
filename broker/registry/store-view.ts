/**
 * One broker's view of a shared registry: the entries it routes from. Three sources keep it in
 * step, and they may arrive in any order: the broker's own writes, change hints (pub/sub) and
 * full snapshots (the periodic resync). Pure: no I/O, no timers, no clock.
 *
 * - A higher generation of an id replaces a lower one; a removal or a drain applies only to
 *   the generation it names; draining never reverts within a generation; an operator's change
 *   (admin mode, weight) keeps the generation and follows the last write seen.
 * - Each id remembers at which generation it last changed, and when, on a counter of the view's
 *   changes (removals included). A snapshot leaves alone every id that changed after the
 *   snapshot was asked for: a hint received later describes a write committed earlier than
 *   its arrival, and the snapshot may predate it.
 * - A snapshot never takes out an entry the broker owns: those leave by its own remove(), or
 *   when Redis answers that a newer registration superseded them.
 */
import { adminDiffers, withAdmin } from './admin-change.js';
import type { RemovalReason, ServerEntry, StoreEvent } from './store.js';

interface Mark {
  /** The highest generation the id had when it last changed. */
  generation: number;
  /** The view's change counter at that change. */
  at: number;
  /**
   * The change was an expiry: the same generation may come back (its owner writes it back
   * after a partition or a Redis restart), which a removal never does.
   */
  expired: boolean;
}

export class StoreView {
  private readonly entries = new Map<number, ServerEntry>();
  private readonly marks = new Map<number, Mark>();
  private changes = 0;

  constructor(private readonly emit: (event: StoreEvent) => void) {}

  get(id: number): ServerEntry | undefined {
    return this.entries.get(id);
  }

  /** The highest generation known for `id`, present or removed; 0 when none. */
  lastGeneration(id: number): number {
    return Math.max(this.entries.get(id)?.generation ?? 0, this.marks.get(id)?.generation ?? 0);
  }

  values(): IterableIterator<ServerEntry> {
    return this.entries.values();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * An entry as it now is: added when its generation is newer than what the view holds (the
   * older one leaves with it, as `replaced`), marked draining when the same generation now drains.
   * An entry at or below a removed generation is old news and changes nothing.
   */
  upsert(entry: ServerEntry): void {
    const current = this.entries.get(entry.id);
    if (current !== undefined && current.generation === entry.generation) {
      if (entry.draining && !current.draining) this.drain(entry.id, entry.generation);
      // An operator's change (setAdmin), from a hint or a snapshot: the rest of the entry stays.
      const now = this.entries.get(entry.id)!;
      if (adminDiffers(now, entry)) this.update(withAdmin(now, { mode: entry.admin ?? 'enabled', ...(entry.weight !== undefined && { weight: entry.weight }) }));
      return;
    }
    const mark = this.marks.get(entry.id);
    const floor = Math.max(current?.generation ?? 0, mark === undefined ? 0 : mark.expired ? mark.generation - 1 : mark.generation);
    if (entry.generation <= floor) return;
    this.entries.set(entry.id, entry);
    this.mark(entry.id, entry.generation);
    this.emit({ kind: 'added', entry, replaced: current });
  }

  /** Takes out `id` if the view holds `generation`; remembers the removal either way. */
  remove(id: number, generation: number, reason: RemovalReason): boolean {
    this.mark(id, generation, reason.kind === 'expired');
    const current = this.entries.get(id);
    if (current?.generation !== generation) return false;
    this.entries.delete(id);
    this.emit({ kind: 'removed', entry: current, reason });
    return true;
  }

  /** Marks `id` draining if the view holds `generation`. */
  drain(id: number, generation: number): boolean {
    const current = this.entries.get(id);
    if (current?.generation !== generation || current.draining) return false;
    const drained = { ...current, draining: true };
    this.entries.set(id, drained);
    this.mark(id, generation);
    this.emit({ kind: 'draining', entry: drained });
    return true;
  }

  /** The same registration of an id with an operator's change applied (its generation unchanged). */
  update(entry: ServerEntry): boolean {
    const current = this.entries.get(entry.id);
    if (current?.generation !== entry.generation) return false;
    this.entries.set(entry.id, entry);
    this.mark(entry.id, entry.generation);
    this.emit({ kind: 'updated', entry });
    return true;
  }

  /** Taken just before a snapshot is asked for; applySnapshot() takes it back. */
  snapshotToken(): number {
    return this.changes;
  }

  /**
   * Brings the view to a full snapshot asked for at `token`: entries it lacks are added
   * (or their newer generation replaces the old), entries it no longer has expired, except those
   * that changed since the snapshot was asked for and those `owned` keeps.
   */
  applySnapshot(snapshot: readonly ServerEntry[], token: number, owned: (id: number) => boolean): void {
    const seen = new Set<number>();
    for (const entry of snapshot) {
      seen.add(entry.id);
      if (this.changedSince(entry.id, token)) continue;
      this.upsert(entry);
    }
    for (const entry of [...this.entries.values()]) {
      if (seen.has(entry.id) || owned(entry.id) || this.changedSince(entry.id, token)) continue;
      this.remove(entry.id, entry.generation, { kind: 'expired' });
    }
    // A mark outlives its entry only to guard against snapshots asked for before it.
    for (const [id, mark] of this.marks) {
      if (mark.at <= token && !this.entries.has(id)) this.marks.delete(id);
    }
  }

  private changedSince(id: number, token: number): boolean {
    const mark = this.marks.get(id);
    return mark !== undefined && mark.at > token;
  }

  private mark(id: number, generation: number, expired = false): void {
    const at = ++this.changes;
    const mark = this.marks.get(id);
    if (mark === undefined) this.marks.set(id, { generation, at, expired });
    else {
      mark.expired = generation >= mark.generation ? expired : mark.expired;
      mark.generation = Math.max(mark.generation, generation);
      mark.at = at;
    }
  }
}
