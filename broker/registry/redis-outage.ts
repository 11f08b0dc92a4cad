/**
 * Whether Redis answers, for the store that depends on it: degraded from the first call it does
 * not answer until a resync goes through again, logged once each way. While degraded the broker
 * routes from its last view and keeps its writes for later (redis-writes.ts).
 */
import type { Logger } from '../support/logger.js';

export class RedisOutage {
  private since: number | undefined;
  /** Called when the store becomes degraded (true) or answers again (false). */
  onChange: ((degraded: boolean) => void) | undefined;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  get degraded(): boolean {
    return this.since !== undefined;
  }

  get sinceMs(): number | undefined {
    return this.since;
  }

  /** A call Redis did not answer. */
  down(err: unknown): void {
    if (this.since !== undefined) return;
    this.since = this.now();
    this.log.warn('registry: Redis does not answer; routing from the last view, registrations kept locally until it is back', {
      error: err instanceof Error ? err.message : String(err),
    });
    this.onChange?.(true);
  }

  /** A resync went through. */
  back(): void {
    if (this.since === undefined) return;
    const since = this.since;
    this.since = undefined;
    this.log.info('registry: Redis answers again; local changes written back', { degradedMs: this.now() - since });
    this.onChange?.(false);
  }
}
