/**
 * Whether a registration may take an id (and a port) that a registered server holds. Pure: the
 * registrar says who owns the existing record's session.
 *
 * No sequence of registrations and disconnects by a third party may leave a live server
 * unregistered, so a registration never displaces a server that is still there:
 * - a session server's id belongs to its session connection while that is open: the same
 *   connection may register it again (changing its settings); any other gets DUPLICATE_ID until
 *   the session closes, leaves or misses its heartbeats (a restarted server registers again
 *   once the broker has seen its old session go);
 * - a classic server's id, while its link is up or being dialed, may only be registered again
 *   for the same host, port and policy without a session (the same listening socket: a restart
 *   in place); anything else gets DUPLICATE_ID until the broker finds it gone.
 * And a port that serves one policy cannot be registered for another under a second id: its
 * server would receive the other policy's packets. Ports are compared on the host the broker
 * dials (the registration's source address), with every address of the broker's own host as
 * one: loopback (127.0.0.0/8, ::1) and this host's interface addresses all reach a server that
 * listens on a wildcard address, so 127.0.0.1:P, 127.0.0.2:P and [::1]:P are one port.
 */
import type { Registration } from '../protocol/packet-types.js';
import type { Member } from '../routing/member.js';
import { isLocalAddress } from '../support/address-list.js';
import { normalizeHost } from '../support/net-address.js';

/** Who holds the session of an existing session record, as the registrar sees it. */
export type SessionOwner = 'this-connection' | 'another-open-connection' | 'none';

/** undefined: the registration may go ahead (replacing `existing`, if any); else why it may not. */
export function idClaimRefusal(member: Member | undefined, reg: Registration, host: string, owner: SessionOwner): string | undefined {
  if (member === undefined || member.packets === undefined) return undefined;
  const existing = { ...member.info, port: member.packets.port, state: member.packets.state };
  if (existing.session) {
    if (owner !== 'another-open-connection') return undefined;
    return `server id ${reg.id} is registered on a live session from ${existing.host}; it must leave or close its session first`;
  }
  if (existing.state === 'down' || existing.state === 'draining') return undefined;
  const inPlace = !reg.session && existing.host === host && existing.port === reg.listenport && existing.policy === reg.policy;
  if (inPlace) return undefined;
  return `server id ${reg.id} is registered and reachable at ${existing.host}:${existing.port}; the same id is accepted again only for that address and policy`;
}

/** Why `reg` from `host` may not use its ports: another id of another policy is registered on one. */
export function portClaimRefusal(members: Iterable<Member>, reg: Registration, host: string): string | undefined {
  let key: string | undefined;
  for (const m of members) {
    const r = m.info;
    if (m.packets === undefined || r.id === reg.id || r.policy === reg.policy || m.packets.state === 'draining') continue;
    const packet = r.packetPort === reg.listenport;
    const http = reg.httpport !== undefined && r.httpPort === reg.httpport;
    if (!packet && !http) continue;
    // Only for a port that matches: reading this host's addresses is not free.
    key ??= hostKey(host);
    if (hostKey(r.host) !== key) continue;
    if (packet) return `port ${reg.listenport} at ${r.host} is registered by server ${r.id} of another policy`;
    return `httpport ${reg.httpport} at ${r.host} is registered by server ${r.id} of another policy`;
  }
  return undefined;
}

/** The host a port is claimed on: every address of this host is one (a wildcard listener answers on all). */
function hostKey(host: string): string {
  return isLocalAddress(host) ? 'this host' : normalizeHost(host).toLowerCase();
}
