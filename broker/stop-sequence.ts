/**
 * The one stop sequence of a broker (SIGTERM, close()), for every deployment shape: the
 * composition root runs it for the packet and HTTP front ends together, a lone HTTP front end
 * (a --workers worker) for itself, and cluster/ can run it for its parts. In this order:
 *
 * 1. every front end stops accepting (new packets get UNAVAILABLE, new requests 503; listeners close);
 * 2. what they took is answered, up to `drainMs` (both at once: the HTTP front end shares the
 *    table, so servers must not leave while its requests may still be retried on them);
 * 3. the broker leaves the registry (its servers, or only its view of a shared one);
 * 4. every front end closes its links, pools and connections (what is left gets its error).
 */
import type { Admission } from './routing/admission.js';
import type { Logger } from './support/logger.js';
import { waitUntil } from './support/wait-until.js';

/** A front end as the stop sequence sees it: its admission and in-flight owner, and its teardown. */
export interface Stoppable {
  /** How its log lines name it. */
  readonly name: string;
  /** Its protocol's admission (routing/admission.ts): the in-flight count its limits read, and the drain waits for idle(). */
  readonly admission: Admission;
  /** Refuses new work from now on. */
  stopAccepting(): void;
  /** Closes its links, pools and connections; what is still in flight is answered with an error. */
  closeAll(): Promise<void>;
}

export interface StopPlan {
  readonly fronts: readonly Stoppable[];
  /** Step 3: leaves the registry. */
  leave(): void | Promise<void>;
  readonly drainMs: number;
  readonly log: Logger;
}

/** Runs the stop sequence once; resolves when every front end is closed. */
export async function stopSequence(plan: StopPlan): Promise<void> {
  const { fronts, log } = plan;
  for (const front of fronts) front.stopAccepting();
  if (!(await waitUntil(() => fronts.every((front) => front.admission.idle()), plan.drainMs))) {
    log.warn('drain timed out; answering the rest with an error', Object.fromEntries(fronts.map((front) => [front.name, front.admission.count + front.admission.held])));
  }
  await plan.leave();
  await Promise.all(fronts.map((front) => front.closeAll()));
}
