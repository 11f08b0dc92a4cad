/**
 * The registry, mirrored into the HTTP workers of --workers. The primary owns the Registry (the
 * packet path registers, heartbeats and removes servers there); each worker keeps a copy that
 * its HTTP front end reads and observes exactly as it would the real one. The primary sends a
 * worker the whole table once (a snapshot), then every change as an event, in order, over the
 * worker's IPC channel. Pure: plain data in and out, no I/O.
 */
import type { Registry, RegistryObserver } from '../registry/registry.js';
import type { ServerRecord, ServerState } from '../registry/server-record.js';

/** What a worker needs of one server record (counters stay with the primary). */
export interface ServerInfo {
  id: number;
  policy: number;
  host: string;
  port: number;
  maxInflight: number;
  httpPort: number | null;
  session: boolean;
  tls: boolean;
  state: ServerState;
}

export type RegistryEvent =
  | { kind: 'added'; server: ServerInfo }
  | { kind: 'removed'; id: number }
  | { kind: 'state'; id: number; state: ServerState };

/** A copy of the fields a mirror needs, taken now (the record changes later). */
export function serverInfo(record: ServerRecord): ServerInfo {
  return {
    id: record.id,
    policy: record.policy,
    host: record.host,
    port: record.port,
    maxInflight: record.maxInflight,
    httpPort: record.httpPort ?? null,
    session: record.session,
    tls: record.tls,
    state: record.state,
  };
}

/** The whole table, for a mirror that starts now. */
export function registrySnapshot(registry: Registry): ServerInfo[] {
  return Array.from(registry.servers(), serverInfo);
}

/** Observes a registry and turns each change into an event, handed to `emit` at once. */
export class RegistryBroadcaster implements RegistryObserver {
  constructor(private readonly emit: (event: RegistryEvent) => void) {}

  added(record: ServerRecord): void {
    this.emit({ kind: 'added', server: serverInfo(record) });
  }

  removed(record: ServerRecord): void {
    this.emit({ kind: 'removed', id: record.id });
  }

  stateChanged(record: ServerRecord): void {
    this.emit({ kind: 'state', id: record.id, state: record.state });
  }
}

/** Replaces everything in `mirror` by the snapshot's servers (the mirror's observers see each change). */
export function applySnapshot(mirror: Registry, servers: readonly ServerInfo[]): void {
  for (const record of [...mirror.servers()]) mirror.remove(record);
  for (const server of servers) add(mirror, server);
}

/** Applies one event of the primary's registry to `mirror`. */
export function applyEvent(mirror: Registry, event: RegistryEvent): void {
  switch (event.kind) {
    case 'added':
      add(mirror, event.server);
      return;
    case 'removed': {
      const record = mirror.get(event.id);
      if (record !== undefined) mirror.remove(record);
      return;
    }
    case 'state': {
      const record = mirror.get(event.id);
      if (record !== undefined) mirror.setState(record, event.state);
      return;
    }
  }
}

function add(mirror: Registry, s: ServerInfo): void {
  // The primary removed any record with this id before adding (a removed event came first);
  // a stale one here would make register() refuse the id from another host.
  const stale = mirror.get(s.id);
  if (stale !== undefined) mirror.remove(stale);
  const { record } = mirror.register(
    {
      type: 1,
      id: s.id,
      policy: s.policy,
      listenport: s.port,
      maxInflight: s.maxInflight,
      ...(s.httpPort !== null && { httpport: s.httpPort }),
      session: s.session,
      tls: s.tls,
    },
    s.host,
  );
  mirror.setState(record, s.state);
}
