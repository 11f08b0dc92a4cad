/**
 * The status report served at <admin prefix>status: policies, their packet and HTTP servers
 * with states, in-flight counts and counters, the packet and HTTP totals, and memory.
 */
import type { AddressInfo } from 'node:net';
import type { PolicyTable } from '../routing/policy-table.js';
import { FORGOTTEN_POLICY, type Counters } from '../routing/counters.js';
import type { LatencyHistogram } from '../support/latency-histogram.js';
import { HookCounters, type HookCounts } from '../hooks/counters.js';
import type { HttpSource } from './http-source.js';
import type { UpgradeFigures } from '../http/upgrade-counters.js';

/** What the status page reads. */
export interface StatusSources {
  readonly table: PolicyTable;
  readonly stats: Counters;
  /** Packets accepted and not yet answered. */
  packetOutstanding(): number;
  packetAddress(): AddressInfo | undefined;
  /**
   * Set once the HTTP front end is up (it is loaded only with --http-port): the front end, or
   * with --workers the primary's merged view of the workers.
   */
  http: HttpSource | undefined;
  readonly startedAt: number;
  /** True once close() has begun. */
  stopping(): boolean;
  /** Where the servers are registered: this broker's memory, or Redis shared with other brokers. */
  registry?(): RegistryStatus;
  /** This process's interceptor counters (docs/hooks.md); absent without interceptors. */
  hooks?(): Record<string, HookCounts>;
}

/** Every interceptor's counters: this process's, and with --workers the workers' added. */
export function hookCounts(src: StatusSources): Record<string, HookCounts> {
  const own = src.hooks?.() ?? {};
  const workers = src.http?.hookCounts?.();
  return workers === undefined ? own : HookCounters.merge([own, workers]);
}

/** The registry section of the status report. */
export type RegistryStatus =
  | { kind: 'memory'; brokerId: string }
  | {
      kind: 'redis';
      brokerId: string;
      /** The URL without its password. */
      url: string;
      prefix: string;
      /** True while Redis does not answer: routing goes on from the last view. */
      degraded: boolean;
      degradedSince: number | null;
      /** Removals and drains made while degraded, not yet written to Redis. */
      pendingWrites: number;
      /** The Redis written to (with Sentinel: the primary they named), since when, and how many times it changed. */
      primary: { address: string; since: number; changes: number } | null;
      /** The brokers that share the registry, this one included. */
      brokers: Array<{ id: string; packet: string | null; http: string | null; startedAt: number; owns: number; degraded: boolean }>;
    };

export interface ServerStatus {
  id: number;
  host: string;
  port: number;
  httpPort: number | null;
  state: string;
  session: boolean;
  /** The broker that took its registration (a shared registry's brokers each own some). */
  owner: string | null;
  maxInflight: number;
  /** Its share of its policy's packets relative to the others' (1-1000). */
  weight: number;
  /** What the operator asked (the runtime API): enabled, drain or disabled. */
  admin: string;
  outstanding: number;
  served: number;
  failures: number;
}

export interface HttpServerStatus {
  /** The registered server's id; null for a static backend. */
  id: number | null;
  source: 'registered' | 'static';
  address: string;
  state: string;
  weight: number;
  admin: string;
  inflight: number;
  served: number;
  failures: number;
  lastError: string | null;
}

/** Answers given for one policy since the broker started, and the latency of the replies. */
export interface PolicyAnswers {
  /** Replies (packets) or relayed responses (HTTP). */
  replied: number;
  /** Error answers by code. */
  errors: Record<string, number>;
  /** Estimated from the latency histogram's buckets; null before the first reply. */
  latencyMs: { p50: number | null; p99: number | null; mean: number | null };
}

export interface PolicyStatus {
  policy: number;
  servers: ServerStatus[];
  httpServers: HttpServerStatus[];
  /** Packet answers for the policy (rerouted: jobs moved to another server). */
  packets: PolicyAnswers & { rerouted: number };
  /** HTTP answers for the policy; null without the HTTP front end. */
  http: PolicyAnswers | null;
}

/** The status report, as served at <prefix>status. */
export function statusReport(src: StatusSources): Record<string, unknown> {
  const policies = new Map<number, PolicyStatus>();
  const policyOf = (policy: number): PolicyStatus => {
    let entry = policies.get(policy);
    if (entry === undefined) {
      entry = { policy, servers: [], httpServers: [], packets: { ...counters(undefined), rerouted: 0 }, http: src.http === undefined ? null : counters(undefined) };
      policies.set(policy, entry);
    }
    return entry;
  };
  for (const e of src.table.endpoints('packets')) {
    const m = e.member;
    policyOf(m.policy).servers.push({
      id: m.id!,
      host: m.host,
      port: e.port,
      httpPort: m.info.httpPort ?? null,
      state: e.state,
      session: m.info.session,
      owner: ownerOf(m.info),
      maxInflight: m.info.maxInflight,
      weight: e.weight,
      admin: m.admin,
      outstanding: e.outstanding,
      served: e.served,
      failures: e.failures,
    });
  }
  const http = src.http;
  if (http !== undefined) {
    for (const b of http.backends()) {
      policyOf(b.policy).httpServers.push({
        id: b.id ?? null,
        source: b.source,
        address: b.address,
        state: b.state,
        weight: b.weight,
        admin: b.admin,
        inflight: b.outstanding,
        served: b.served,
        failures: b.failures,
        lastError: b.lastError ?? null,
      });
    }
  }
  // Every policy that ever had a server keeps its counters, also once its servers are gone.
  // Counters of gone policies past the cap are summed under FORGOTTEN_POLICY (stats.ts): shown apart.
  const forgotten: { policies: number; packets: (PolicyAnswers & { rerouted: number }) | null; http: PolicyAnswers | null } = {
    policies: src.stats.forgottenPolicies,
    packets: null,
    http: null,
  };
  for (const p of src.stats.policies()) {
    if (p.policy === FORGOTTEN_POLICY) forgotten.packets = { ...counters(p), rerouted: p.rerouted };
    else policyOf(p.policy).packets = { ...counters(p), rerouted: p.rerouted };
  }
  if (http !== undefined) {
    for (const p of http.stats.policies()) {
      if (p.policy === FORGOTTEN_POLICY) forgotten.http = counters(p);
      else policyOf(p.policy).http = counters(p);
    }
  }
  const memory = process.memoryUsage();
  const packetAddress = src.packetAddress();
  const stats = src.stats;
  return {
    status: src.stopping() ? 'stopping' : 'running',
    pid: process.pid,
    uptimeMs: Date.now() - src.startedAt,
    memory: { rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers },
    algorithm: src.table.strategy,
    packet: {
      address: packetAddress === undefined ? null : { host: packetAddress.address, port: packetAddress.port },
      outstanding: src.packetOutstanding(),
      received: stats.received,
      replied: stats.replied,
      rerouted: stats.rerouted,
      dropped: stats.dropped,
      errors: { ...stats.errors },
    },
    http: http === undefined ? null : httpSection(http),
    ...(http?.workers !== undefined && { workers: http.workers() }),
    hooks: hooksSection(hookCounts(src)),
    ...(src.registry !== undefined && { registry: src.registry() }),
    policies: [...policies.values()].sort((a, b) => a.policy - b.policy),
    ...(forgotten.packets !== null || forgotten.http !== null ? { forgottenPolicies: forgotten } : {}),
  };
}

function counters(p: { replied: number; errors: Partial<Record<string, number>>; latency: LatencyHistogram } | undefined): PolicyAnswers {
  if (p === undefined) return { replied: 0, errors: {}, latencyMs: { p50: null, p99: null, mean: null } };
  const h = p.latency;
  return {
    replied: p.replied,
    errors: { ...p.errors } as Record<string, number>,
    latencyMs: { p50: round3(h.quantileMs(0.5)), p99: round3(h.quantileMs(0.99)), mean: h.count === 0 ? null : round3(h.sumMs / h.count) },
  };
}

function ownerOf(info: object): string | null {
  const owner = (info as { owner?: unknown }).owner;
  return typeof owner === 'string' ? owner : null;
}

function round3(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value * 1000) / 1000;
}

/** Per interceptor: its counters, the time in ms rounded. Null without interceptors. */
function hooksSection(counts: Record<string, HookCounts>): Record<string, HookCounts> | null {
  const names = Object.keys(counts);
  if (names.length === 0) return null;
  return Object.fromEntries(names.map((name) => [name, { ...counts[name]!, totalMs: round3(counts[name]!.totalMs) ?? 0 }]));
}

function httpSection(http: HttpSource): Record<string, unknown> {
  const address = http.address();
  const s = http.stats;
  return {
    address: address === undefined ? null : { host: address.address, port: address.port },
    connections: http.connectionCount,
    inflight: http.inflight,
    requests: s.received,
    proxied: s.replied,
    retries: s.rerouted,
    clientAborts: s.dropped,
    truncated: s.truncated,
    errors: { ...s.errors },
    upgrades: upgradesSection(http.upgradeFigures()),
    ...(http.reloads !== undefined && { reloads: { ...http.reloads } }),
  };
}

/** Upgrade requests by outcome, bytes relayed, and the tunnels (WebSockets) open by policy and backend. */
function upgradesSection(f: UpgradeFigures): Record<string, unknown> {
  const t = f.totals;
  const open = f.open.reduce((sum, o) => sum + o.open, 0);
  return { open, upgraded: t.upgraded, notUpgraded: t.notUpgraded, failed: t.failed, refused: { ...t.refused }, closed: t.closed, bytesToBackend: t.bytesToBackend, bytesToClient: t.bytesToClient, openByServer: f.open };
}
