/**
 * The registered servers of the primary's policy table, mirrored into the HTTP workers of
 * --workers. The primary owns registrations (the packet path registers, heartbeats and removes
 * servers there); each worker keeps a copy in its own table that its HTTP front end reads and
 * observes exactly as it would the real one. The primary sends a
 * worker the whole table once (a snapshot), then every change as an event, in order, over the
 * worker's IPC channel. Pure: plain data in and out, no I/O.
 */
import { Member, sameEndpoint, type Endpoint, type MemberInfo, type MemberState } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';

/** What a worker needs of one registered server (counters stay with the primary): as plain data. */
export type ServerInfo = MemberInfo & { state: MemberState };

export type RegistryEvent =
  | { kind: 'added'; server: ServerInfo }
  /** The same server registered again: the member stays (PolicyTable.renew). */
  | { kind: 'renewed'; server: ServerInfo }
  | { kind: 'removed'; id: number; generation: number }
  | { kind: 'state'; id: number; state: MemberState };

/** A copy of the fields a mirror needs, taken now (the member changes later). */
export function serverInfo(member: Member): ServerInfo {
  return { ...member.info, state: member.packets!.state };
}

/** The registered servers, for a mirror that starts now. */
export function registrySnapshot(table: PolicyTable): ServerInfo[] {
  return Array.from(table.endpoints('packets'), (e) => serverInfo(e.member));
}

/** Observes the primary's table and turns each change of a registered server into an event, handed to `emit` at once. */
export class RegistryBroadcaster implements TableObserver {
  constructor(private readonly emit: (event: RegistryEvent) => void) {}

  added(member: Member): void {
    if (member.packets !== undefined) this.emit({ kind: 'added', server: serverInfo(member) });
  }

  renewed(member: Member): void {
    if (member.packets !== undefined) this.emit({ kind: 'renewed', server: serverInfo(member) });
  }

  removed(member: Member): void {
    if (member.packets !== undefined) this.emit({ kind: 'removed', id: member.id!, generation: member.info.generation });
  }

  stateChanged(endpoint: Endpoint): void {
    if (endpoint.protocol === 'packets') this.emit({ kind: 'state', id: endpoint.member.id!, state: endpoint.state });
  }
}

/** Replaces every registered server in `mirror` by the snapshot's (the mirror's observers see each change). */
export function applySnapshot(mirror: PolicyTable, servers: readonly ServerInfo[]): void {
  for (const member of [...mirror.members()]) if (member.id !== undefined) mirror.remove(member);
  for (const server of servers) add(mirror, server);
}

/** Applies one event of the primary's table to `mirror`. */
export function applyEvent(mirror: PolicyTable, event: RegistryEvent): void {
  switch (event.kind) {
    case 'added':
      add(mirror, event.server);
      return;
    case 'renewed': {
      const member = mirror.get(event.server.id!);
      if (member === undefined || !sameEndpoint(member.info, event.server)) add(mirror, event.server);
      else {
        mirror.renew(member, event.server);
        mirror.setState(member.packets!, event.server.state);
      }
      return;
    }
    case 'removed': {
      // A server registering again is added before its old registration leaves.
      const member = mirror.get(event.id);
      if (member?.info.generation === event.generation) mirror.remove(member);
      return;
    }
    case 'state': {
      const endpoint = mirror.get(event.id)?.packets;
      if (endpoint !== undefined) mirror.setState(endpoint, event.state);
      return;
    }
  }
}

function add(mirror: PolicyTable, s: ServerInfo): void {
  // JSON over IPC drops the fields that are undefined (httpPort): they come back as undefined.
  const member = new Member(s);
  // Its state before it joins, so that observers see it as the primary has it.
  member.packets!.state = s.state;
  mirror.add(member);
}
