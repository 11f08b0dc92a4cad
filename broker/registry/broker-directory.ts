/**
 * The brokers that share a registry know each other: each writes a key with a TTL (a few
 * resync periods) at every resync and reads the others'. A broker that dies drops out when its
 * key expires; one that stops cleanly removes its key. For the status page and the dashboard
 * only: routing never depends on it.
 */
import type { Logger } from '../support/logger.js';
import type { RegistryConnection } from './redis-connection.js';
import { ANNOUNCE, RETIRE, type RegistryKeys } from './redis-scripts.js';

/** What a broker says of itself. */
export interface BrokerInfo {
  id: string;
  /** host:port of its packet listener, as it listens (0.0.0.0 means any of its addresses). */
  packet: string | null;
  http: string | null;
  startedAt: number;
  /** Servers whose registration it took and keeps alive. */
  owns: number;
  degraded: boolean;
}

/** Resync periods a broker's key outlives its last write. */
const TTL_PERIODS = 3;

export class BrokerDirectory {
  private known: BrokerInfo[] = [];

  constructor(
    private readonly connection: RegistryConnection,
    private readonly keys: RegistryKeys,
    private readonly self: () => BrokerInfo,
    private readonly periodMs: number,
    private readonly log: Logger,
  ) {}

  /** The brokers seen at the last announce (this one included), by id. */
  list(): BrokerInfo[] {
    return this.known;
  }

  /** Writes this broker's key and reads the others'; a failure keeps the last list. */
  async announce(): Promise<void> {
    const me = this.self();
    let reply: unknown;
    try {
      reply = await this.connection.run(ANNOUNCE, [this.keys.broker(me.id), this.keys.brokers], [this.keys.prefix, me.id, JSON.stringify(me), String(TTL_PERIODS * this.periodMs)]);
    } catch {
      // The store reports Redis being away; this list is only for display.
      this.known = this.known.map((b) => (b.id === me.id ? me : b));
      return;
    }
    const brokers: BrokerInfo[] = [];
    for (const json of reply as string[]) {
      try {
        const b = JSON.parse(json) as BrokerInfo;
        if (typeof b.id === 'string') brokers.push(b);
      } catch {
        this.log.debug('registry: a broker key does not parse; skipped');
      }
    }
    this.known = brokers.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Removes this broker's key (a clean stop). */
  async retire(): Promise<void> {
    const id = this.self().id;
    await this.connection.run(RETIRE, [this.keys.broker(id), this.keys.brokers], [id]).catch(() => undefined);
  }
}
