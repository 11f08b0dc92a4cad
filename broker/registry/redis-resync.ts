/**
 * The periodic resync of a Redis store: write back the removals and drains that wait, renew
 * (and write back) the records this broker owns, then read every record and bring the view to
 * that snapshot. It heals what lost hints missed, and is how an expired record leaves (Redis
 * expires keys silently). A new epoch means Redis lost its data: the broker writes back all it
 * knows before it trusts a snapshot, and nothing expires on the first one after.
 */
import type { Logger } from '../support/logger.js';
import type { BrokerDirectory } from './broker-directory.js';
import type { OwnedRecords } from './owned-records.js';
import { type RegistryConnection } from './redis-connection.js';
import { ScriptError } from './script-error.js';
import type { RedisOutage } from './redis-outage.js';
import { LIST, type RegistryKeys } from './redis-scripts.js';
import type { PendingWrites } from './redis-writes.js';
import type { RegistryProblems } from './registry-problems.js';
import type { StoreView } from './store-view.js';
import type { ServerEntry } from './store.js';

/** What a resync reads and writes: the store's parts. */
export interface ResyncParts {
  readonly keys: RegistryKeys;
  readonly view: StoreView;
  readonly owned: OwnedRecords;
  readonly pending: PendingWrites;
  readonly outage: RedisOutage;
  readonly problems: RegistryProblems;
  readonly log: Logger;
  connection(): RegistryConnection;
  directory(): BrokerDirectory | undefined;
  closed(): boolean;
  decode(id: string, generation: string, json: string, draining: string): ServerEntry | undefined;
}

export class Resync {
  private epoch: string | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly parts: ResyncParts) {}

  /** One resync, or the one running now. */
  run(): Promise<void> {
    this.running ??= this.once().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async once(afterLoss = false): Promise<void> {
    const p = this.parts;
    if (p.closed()) return;
    try {
      await p.pending.flush();
      await p.owned.ensure(p.connection(), p.keys, p.view);
      const token = p.view.snapshotToken();
      const reply = (await p.connection().run(LIST, [p.keys.servers, p.keys.epoch], [p.keys.prefix, randomEpoch()])) as string[];
      const epoch = reply[0]!;
      if (this.epoch !== undefined && epoch !== this.epoch) {
        // Redis lost its data: put back what this broker knows before trusting a snapshot.
        p.log.warn('registry: Redis lost its data (restarted without persistence?); writing back this broker\'s view', { servers: p.view.size });
        this.epoch = epoch;
        await p.owned.ensure(p.connection(), p.keys, p.view, true);
        if (!afterLoss) await this.once(true);
        return;
      }
      this.epoch = epoch;
      const snapshot: ServerEntry[] = [];
      for (let i = 1; i + 3 < reply.length; i += 4) {
        const entry = p.decode(reply[i]!, reply[i + 1]!, reply[i + 2]!, reply[i + 3]!);
        if (entry !== undefined) snapshot.push(entry);
      }
      // Right after Redis lost its data, the other brokers may not have written theirs back
      // yet: nothing expires on this snapshot.
      p.view.applySnapshot(snapshot, token, (id) => afterLoss || p.owned.has(id));
      p.outage.back();
      await p.directory()?.announce();
    } catch (err) {
      if (p.closed()) return;
      if (err instanceof ScriptError) p.problems.scriptFailed('resync', err);
      else p.outage.down(err);
    }
  }
}

function randomEpoch(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
