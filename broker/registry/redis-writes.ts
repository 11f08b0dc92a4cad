/**
 * Removals and drains on their way to Redis: sent at once, or, while Redis does not answer,
 * kept in order and written back by the next resync. A write Redis refuses with an error (a
 * script error) would fail again: it is counted and dropped, never retried forever.
 */
import { type RegistryConnection } from './redis-connection.js';
import { ScriptError } from './script-error.js';
import { hint } from './redis-hints.js';
import { generationText } from './redis-record.js';
import { DRAIN, recordKeys, REMOVE, type RegistryKeys } from './redis-scripts.js';
import type { RegistryProblems } from './registry-problems.js';
import type { RemovalReason } from './store.js';

/** A removal or drain Redis has not confirmed yet. */
export interface PendingChange {
  kind: 'remove' | 'drain';
  id: number;
  generation: number;
  reason?: RemovalReason;
}

export class PendingWrites {
  private readonly pending: PendingChange[] = [];

  constructor(
    private readonly keys: RegistryKeys,
    private readonly connection: () => RegistryConnection,
    private readonly problems: RegistryProblems,
  ) {}

  /** Changes waiting for Redis. */
  get size(): number {
    return this.pending.length;
  }

  /** Sends `change` now, or keeps it when Redis is away (`degraded`, or it does not answer: `outage` is told). */
  async write(change: PendingChange, degraded: boolean, outage: (err: unknown) => void): Promise<void> {
    if (degraded) {
      this.pending.push(change);
      return;
    }
    try {
      await this.send(change);
    } catch (err) {
      this.pending.push(change);
      if (err instanceof ScriptError) this.problems.scriptFailed(change.kind, err);
      else outage(err);
    }
  }

  /** Writes back what waits, in order; throws (keeping the rest) when Redis does not answer. */
  async flush(): Promise<void> {
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
  }

  private async send(change: PendingChange): Promise<void> {
    const gen = generationText(change.generation);
    if (change.kind === 'remove') {
      const why = change.reason === undefined ? 'removed' : change.reason.kind;
      await this.connection().run(REMOVE, recordKeys(this.keys, change.id), [String(change.id), gen, hint({ k: 'r', id: change.id, g: change.generation, why })]);
    } else {
      await this.connection().run(DRAIN, [this.keys.server(change.id), this.keys.channel], [gen, hint({ k: 'd', id: change.id, g: change.generation })]);
    }
  }
}
