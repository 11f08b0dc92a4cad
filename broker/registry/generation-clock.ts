/**
 * The generations a broker gives its registrations: its clock in µs, above every generation it
 * knows for the id. What Redis says of one id (its last generation) raises that id's floor
 * only, never the broker's own counter: a generation far ahead, written by a broker whose clock
 * is wrong or by a rogue writer, would otherwise be copied into every later registration of
 * every id. Generations stay safe integers: the scripts read anything else as bad data for its
 * id (redis-scripts.ts), and a floor that leaves no safe generation refuses that id only.
 */
import { ErrorCode, ProtocolError } from '../protocol/error-codes.js';
import type { Logger } from '../support/logger.js';

/** How far ahead of this broker's clock an id's generation may be before it is logged (µs). */
const AHEAD_WARN_US = 60_000_000;

export class GenerationClock {
  private own = 0;
  /** Per id, the last generation Redis reported while a registration of it was retried. */
  private readonly floors = new Map<number, number>();
  /** Ids whose generation was logged as far ahead, so each is logged once. */
  private readonly warned = new Set<number>();

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Redis holds `text` as the last generation of `id` (digits as the scripts answer them). */
  learn(id: number, text: string): void {
    const generation = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(generation)) return;
    this.floors.set(id, Math.max(this.floors.get(id) ?? 0, generation));
  }

  /** A generation for a new registration of `id`, above `known` (the view's last for it). */
  next(id: number, known: number): number {
    const clock = this.now() * 1000;
    this.own = Math.max(clock, this.own + 1);
    const floor = Math.max(known, this.floors.get(id) ?? 0);
    const generation = Math.max(this.own, floor + 1);
    if (!Number.isSafeInteger(generation)) {
      throw new ProtocolError(ErrorCode.UNAVAILABLE, `server id ${id}: its last generation in the registry is at the largest safe integer; the registry's record of it must be cleared`);
    }
    if (generation - clock > AHEAD_WARN_US && !this.warned.has(id)) {
      this.warned.add(id);
      if (this.warned.size > 10_000) this.warned.clear();
      this.log.warn("registry: a server id's last generation is far ahead of this broker's clock (another broker's clock is ahead, or something wrote it by hand); only that id follows it", {
        id,
        aheadSeconds: Math.round((generation - clock) / 1e6),
      });
    }
    return generation;
  }

  /** A registration of `id` was written: its floor is in the view now. */
  settled(id: number): void {
    this.floors.delete(id);
  }
}
