/**
 * The policy table follows the registry store: an entry added becomes a member (or, for the
 * same server at the same endpoints registering again, renews its member: its links and
 * outstanding packets stay), an entry
 * removed or draining takes its member out. An event about an older generation of an id than
 * the table holds is stale and changes nothing. The table may already be ahead of the store
 * (a broker takes a failed server out locally first, then tells the store): applying the same
 * change twice is a no-op.
 */
import { Member, sameEndpoint } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { RegistryStore, StoreEvent } from './store.js';

/** Applies one store event to the table. */
function applyStoreEvent(table: PolicyTable, event: StoreEvent): void {
  if (event.kind === 'added') {
    const current = table.get(event.entry.id);
    if (current === undefined) table.add(new Member(event.entry));
    else if (current.info.generation >= event.entry.generation) return;
    else if (sameEndpoint(current.info, event.entry)) table.renew(current, event.entry);
    else table.add(new Member(event.entry));
    return;
  }
  const member = table.get(event.entry.id);
  if (member === undefined || member.info.generation !== event.entry.generation) return;
  if (event.kind === 'removed') table.remove(member);
  else if (member.packets !== undefined) table.setState(member.packets, 'draining');
}

/** Keeps `table` in step with `store` from now on; returns the unsubscribe. */
export function followStore(store: RegistryStore, table: PolicyTable): () => void {
  return store.watch((event) => applyStoreEvent(table, event));
}
