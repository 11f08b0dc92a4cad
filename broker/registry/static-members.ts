/**
 * The servers.conf backends as a source of membership: the list of static members wanted now,
 * compared with those in the table. Pure: it says who joins, who leaves and whose weight
 * changes; Membership (membership.ts) applies it, so that the table has one writer. Unchanged
 * entries keep their member, and with it their connections, counters and health.
 */
import { Member, type MemberInfo } from '../routing/member.js';
import type { StaticBackend } from '../support/servers-file.js';

export interface ReloadResult {
  added: number;
  removed: number;
  kept: number;
  reweighted: number;
}

/** What a new list of static members changes. */
export interface StaticPlan {
  join: Array<[key: string, member: Member]>;
  leave: Array<[key: string, member: Member]>;
  reweight: Array<[member: Member, weight: number]>;
  kept: number;
}

/** The change from the static members in `current` (by key) to those of `entries`. */
export function planStatic(current: ReadonlyMap<string, Member>, entries: readonly StaticBackend[], defaultPolicy: number, now: number): StaticPlan {
  const plan: StaticPlan = { join: [], leave: [], reweight: [], kept: 0 };
  const wanted = new Map(entries.map((entry) => [staticKey(entry, defaultPolicy), entry]));
  for (const [key, member] of current) if (!wanted.has(key)) plan.leave.push([key, member]);
  for (const [key, entry] of wanted) {
    const weight = entry.weight ?? 1;
    const member = current.get(key);
    if (member === undefined) {
      plan.join.push([key, new Member(staticInfo(entry, defaultPolicy, weight, now))]);
      continue;
    }
    plan.kept++;
    if (member.weight !== weight) plan.reweight.push([member, weight]);
  }
  return plan;
}

function staticInfo(entry: StaticBackend, defaultPolicy: number, weight: number, now: number): MemberInfo {
  const info = { id: undefined, policy: entry.policy ?? defaultPolicy, host: entry.host, packetPort: undefined, httpPort: entry.port };
  return { ...info, maxInflight: 1, session: false, tls: false, registeredAt: now, generation: 0, weight, ...tlsOf(entry) };
}

/** A change of tls or servername makes another member (another connection pool). */
function staticKey(entry: StaticBackend, defaultPolicy: number): string {
  return `${entry.host}:${entry.port} ${entry.policy ?? defaultPolicy}${entry.tls === true ? ` tls ${entry.servername ?? ''}` : ''}`;
}

function tlsOf(entry: StaticBackend): { httpTls?: true; httpServername?: string } {
  if (entry.tls !== true) return {};
  return entry.servername === undefined ? { httpTls: true } : { httpTls: true, httpServername: entry.servername };
}
