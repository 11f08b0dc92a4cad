/**
 * The report of npm run simulate: the clients' --json summaries added up per policy and per
 * server, every check that makes the run a failure, and the table people read. Pure:
 * scripts/simulate.ts gathers the input.
 */
import type { LoadSummary } from '../../client/summary.js';
import { formatCounts, percent, textTable, type Cell } from './text-table.js';

export interface SimulationInput {
  algorithm: string;
  /** Each policy and the ids of its servers. */
  policies: Array<{ policy: number; servers: number[] }>;
  clients: Array<{ srcid: number; policy: number; exitCode: number; summary: LoadSummary | undefined }>;
  /** The chaos variant: which server was killed with SIGKILL, how long into the load. */
  kill?: { id: number; afterMs: number; brokerEvents: string[] };
}

export interface ServerRow {
  id: number;
  /** Replies from this server, over all clients of its policy. */
  served: number;
  /** served / replies of the policy. */
  share: number;
  killed: boolean;
}

export interface PolicyRow {
  policy: number;
  clients: number;
  sent: number;
  answered: number;
  lost: number;
  errors: Record<string, number>;
  replies: number;
  verified: number;
  verifyFailed: number;
  /** Median of the clients' p50. */
  p50Ms: number;
  /** Worst of the clients' p99. */
  p99Ms: number;
  servers: ServerRow[];
}

export interface Failover {
  id: number;
  policy: number;
  afterMs: number;
  /** What the killed server served before it died. */
  killedServed: number;
  /** What each other server of its policy served. */
  survivors: Record<string, number>;
  /** The killed server served, and the others of its policy served too. */
  observed: boolean;
  /** What the broker logged about the killed server. */
  brokerEvents: string[];
}

export interface SimulationReport {
  ok: boolean;
  /** Why the run failed; empty when ok. */
  problems: string[];
  algorithm: string;
  totals: { clients: number; sent: number; answered: number; lost: number; errors: Record<string, number>; verified: number; verifyFailed: number };
  policies: PolicyRow[];
  failover?: Failover;
}

/** Adds up the clients per policy and server and lists every reason the run failed. */
export function simulationReport(input: SimulationInput): SimulationReport {
  const problems: string[] = [];
  const serverPolicy = new Map<number, number>();
  for (const { policy, servers } of input.policies) for (const id of servers) serverPolicy.set(id, policy);

  for (const client of input.clients) {
    if (client.summary === undefined) problems.push(`client ${client.srcid} (policy ${client.policy}) printed no summary (exit code ${client.exitCode})`);
    else if (client.exitCode !== 0) problems.push(`client ${client.srcid} (policy ${client.policy}) exited with code ${client.exitCode}`);
    for (const id of Object.keys(client.summary?.byServer ?? {})) {
      if (serverPolicy.get(Number(id)) !== client.policy) problems.push(`client ${client.srcid} of policy ${client.policy} was answered by server ${id} of another policy`);
    }
  }

  const policies = input.policies.map(({ policy, servers }) => policyRow(policy, servers, input));
  for (const row of policies) {
    if (row.lost > 0) problems.push(`policy ${row.policy}: ${row.lost} packets lost (no answer)`);
    const errors = formatCounts(row.errors);
    if (errors !== 'none') problems.push(`policy ${row.policy}: error answers: ${errors}`);
    if (row.verifyFailed > 0) problems.push(`policy ${row.policy}: ${row.verifyFailed} replies failed SHA-1 verification`);
    if (row.verified + row.verifyFailed < row.replies) problems.push(`policy ${row.policy}: ${row.replies - row.verified - row.verifyFailed} replies not verified`);
  }

  const totals = {
    clients: input.clients.length,
    sent: sum(policies.map((p) => p.sent)),
    answered: sum(policies.map((p) => p.answered)),
    lost: sum(policies.map((p) => p.lost)),
    errors: addCounts(policies.map((p) => p.errors)),
    verified: sum(policies.map((p) => p.verified)),
    verifyFailed: sum(policies.map((p) => p.verifyFailed)),
  };

  const report: SimulationReport = { ok: false, problems, algorithm: input.algorithm, totals, policies };
  if (input.kill !== undefined) {
    const failover = failoverOf(input.kill, policies);
    report.failover = failover;
    if (!failover.observed) {
      problems.push(
        failover.killedServed === 0
          ? `server ${failover.id} served nothing before it was killed: the clients started too late for the kill (use a longer --kill-one-server-after)`
          : `no other server of policy ${failover.policy} served: nothing took over from server ${failover.id}`,
      );
    }
  }
  report.ok = problems.length === 0;
  return report;
}

function policyRow(policy: number, serverIds: number[], input: SimulationInput): PolicyRow {
  const summaries = input.clients.filter((c) => c.policy === policy && c.summary !== undefined).map((c) => c.summary!);
  const byServer = addCounts(summaries.map((s) => s.byServer));
  const replies = sum(Object.values(byServer));
  const servers = serverIds.map((id) => {
    const served = byServer[String(id)] ?? 0;
    return { id, served, share: replies === 0 ? 0 : served / replies, killed: input.kill?.id === id };
  });
  const timed = summaries.filter((s) => sum(Object.values(s.byServer)) > 0);
  return {
    policy,
    clients: input.clients.filter((c) => c.policy === policy).length,
    sent: sum(summaries.map((s) => s.sent)),
    answered: sum(summaries.map((s) => s.answered)),
    lost: sum(summaries.map((s) => s.lost)),
    errors: addCounts(summaries.map((s) => s.errors)),
    replies,
    verified: sum(summaries.map((s) => s.verified)),
    verifyFailed: sum(summaries.map((s) => s.verifyFailed)),
    p50Ms: round3(median(timed.map((s) => s.p50Ms))),
    p99Ms: Math.max(0, ...timed.map((s) => s.p99Ms)),
    servers,
  };
}

function failoverOf(kill: NonNullable<SimulationInput['kill']>, policies: PolicyRow[]): Failover {
  const row = policies.find((p) => p.servers.some((s) => s.id === kill.id));
  const killedServed = row?.servers.find((s) => s.id === kill.id)?.served ?? 0;
  const survivors = Object.fromEntries((row?.servers ?? []).filter((s) => s.id !== kill.id).map((s) => [String(s.id), s.served]));
  return {
    id: kill.id,
    policy: row?.policy ?? -1,
    afterMs: kill.afterMs,
    killedServed,
    survivors,
    observed: killedServed > 0 && sum(Object.values(survivors)) > 0,
    brokerEvents: kill.brokerEvents,
  };
}

/** The table per policy and server, the totals, the failover and the verdict, for people. */
export function formatSimulationReport(report: SimulationReport): string {
  const rows: Cell[][] = [];
  for (const p of report.policies) {
    for (const s of p.servers) rows.push([String(p.policy), s.killed ? `${s.id} (killed)` : String(s.id), s.served, percent(s.share), '', '', '']);
    rows.push([String(p.policy), `all ${p.clients} client${p.clients === 1 ? '' : 's'}`, p.replies, p.replies === 0 ? '' : percent(1), ms(p.p50Ms), ms(p.p99Ms), `${p.verified}/${p.replies}`]);
  }
  const t = report.totals;
  const lines = [
    textTable(['policy', 'server', 'served', 'share', 'p50 ms', 'p99 ms', 'verified'], rows),
    '',
    `(latency: median of the clients' p50 and worst client's p99, per policy; algorithm ${report.algorithm})`,
    `clients ${t.clients}, sent ${t.sent}, answered ${t.answered}, lost ${t.lost}, errors ${formatCounts(t.errors)}, verified ${t.verified}/${t.sent}` +
      (t.verifyFailed > 0 ? `, ${t.verifyFailed} FAILED verification` : ''),
  ];
  const f = report.failover;
  if (f !== undefined) {
    const others = Object.entries(f.survivors).map(([id, n]) => `${id}: ${n}`).join(', ');
    lines.push(
      `failover: server ${f.id} (policy ${f.policy}) killed with SIGKILL ${(f.afterMs / 1000).toFixed(1)} s into the load, after serving ${f.killedServed}; ` +
        `the others served ${others === '' ? 'nothing' : others}`,
    );
    if (f.brokerEvents.length > 0) lines.push(`broker on ${f.id}: ${[...new Set(f.brokerEvents)].join(', ')}`);
  }
  lines.push(report.ok ? 'result: OK (nothing lost, every reply verified)' : `result: FAILED\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n') + '\n';
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function ms(value: number): string {
  return value === 0 ? '' : value.toFixed(2);
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Adds up count objects key by key, keys sorted. */
export function addCounts(counts: Array<Record<string, number>>): Record<string, number> {
  const total = new Map<string, number>();
  for (const c of counts) for (const [key, n] of Object.entries(c)) total.set(key, (total.get(key) ?? 0) + n);
  return Object.fromEntries([...total].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
}
