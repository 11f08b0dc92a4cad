/**
 * What a shared registry found wrong in Redis, logged once each: records and values that do
 * not parse (skipped or overwritten: they cost their own id only), and script failures (Redis
 * answered with an error: bad data or a bug, not an outage, so the store is not degraded).
 * Bounded: each set forgets everything when full.
 */
import type { Logger } from '../support/logger.js';
import { decodeEntry } from './redis-record.js';
import type { ServerEntry } from './store.js';

export class RegistryProblems {
  private readonly badData = new Set<string>();
  private readonly scriptErrors = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** The entry of a record as Redis holds it, or undefined (logged once) when it does not parse. */
  decode(id: string, generation: string, json: string, draining: string, key: string): ServerEntry | undefined {
    const entry = decodeEntry(id, generation, json, draining);
    if (typeof entry !== 'string') return entry;
    this.bad(`${id}@${generation}`, entry, key);
    return undefined;
  }

  /** Bad data at `where`, logged once per `key`. */
  bad(key: string, problem: string, where: string): void {
    if (this.badData.has(key)) return;
    if (this.badData.size >= 10_000) this.badData.clear();
    this.badData.add(key);
    this.log.warn('registry: a record in Redis does not parse; skipped', { key: where, problem });
  }

  /** A script failed in Redis (it answered): logged once per message. */
  scriptFailed(call: string, err: Error): void {
    if (this.scriptErrors.has(err.message)) return;
    if (this.scriptErrors.size >= 100) this.scriptErrors.clear();
    this.scriptErrors.add(err.message);
    this.log.error('registry: a script failed in Redis (Redis answers: this is bad data or a bug, not an outage)', { call, error: err.message });
  }
}
