import type { Selectable } from '../routing/strategies/strategy.js';

/**
 * - connecting: registered, the broker is dialing it (classic servers listen only after
 *   registering); selectable, packets wait for the connection.
 * - up: connected and answering.
 * - down: unreachable or not answering; not selectable, the broker probes it back.
 * - draining: leaving; not selectable, its in-flight packets are still answered.
 */
export type ServerState = 'connecting' | 'up' | 'down' | 'draining';

/** One registered server, as the registry and the selection strategies see it. */
export interface ServerRecord extends Selectable {
  readonly id: number;
  readonly policy: number;
  /** The address the registration came from: the broker dials it there. */
  readonly host: string;
  readonly port: number;
  readonly maxInflight: number;
  readonly httpPort: number | undefined;
  /** True when the registration connection is the server's session (removed when it closes). */
  readonly session: boolean;
  /** True when the broker dials the server with TLS. */
  readonly tls: boolean;
  readonly registeredAt: number;
  state: ServerState;
  outstanding: number;
  /** Packets answered by this server. */
  served: number;
  /** Connection failures and timeouts seen on this server. */
  failures: number;
  /** Heartbeats received; heartbeat checks apply only to servers that send them. */
  heartbeats: number;
  lastSeenAt: number;
}

export function isSelectable(state: ServerState): boolean {
  return state === 'connecting' || state === 'up';
}
