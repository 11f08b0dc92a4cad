/**
 * How routing/ writes an endpoint's state and counts, which member.ts keeps private behind
 * read-only getters: one writer each (the table: state, selection, outstanding; liveness.ts:
 * failures and the last error; the attempt policy: answers served). The layering check
 * (.dependency-cruiser.cjs, rule routing-writes-endpoints) lets no file outside routing/
 * import this one, so a front end reports (Liveness.report) and never writes.
 *
 * TypeScript's `private` is per class, not per folder: the element access below is the
 * language's own way past it, kept to this file and to liveness.ts's one call of the table's
 * private setState (an endpoint's state moves only by Liveness's rules or the table's drain).
 */
import type { Endpoint, MemberState } from './member.js';

export function writeState(endpoint: Endpoint, state: MemberState): void {
  endpoint['_state'] = state;
}

export function writeOutstanding(endpoint: Endpoint, outstanding: number): void {
  endpoint['_outstanding'] = outstanding;
}

export function writeInSelection(endpoint: Endpoint, inSelection: boolean): void {
  endpoint['_inSelection'] = inSelection;
}

/** Its member is in a table now: from here on only routing/ moves its state. */
export function markJoined(endpoint: Endpoint): void {
  endpoint['_joined'] = true;
}

export function countServed(endpoint: Endpoint): void {
  endpoint['_served']++;
}

export function countFailure(endpoint: Endpoint, reason?: string): void {
  endpoint['_failures']++;
  if (reason !== undefined) endpoint['_lastError'] = reason;
}
