/**
 * Puts an endpoint in a state directly, for tests that need one without driving Liveness's
 * rules there. PolicyTable.setState is routing/'s own (private): tests reach in here, once.
 */
import type { Endpoint, MemberState } from '../../broker/routing/member.js';
import type { PolicyTable } from '../../broker/routing/policy-table.js';

export function setState(table: PolicyTable, endpoint: Endpoint, state: MemberState): void {
  table['setState'](endpoint, state);
}
