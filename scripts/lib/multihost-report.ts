/**
 * The report of scripts/multihost.sh: where the broker reached each server (from its log), who
 * served before, during and after one server host's link was cut, and whether that makes a
 * failover with nothing lost. Pure: the CLI (scripts/sim-report.ts) reads the files.
 */
import type { LoadSummary } from '../../client/summary.js';
import { int, linesOf, lossEventsOf, summaryFrom, type LogEvent, type ManifestLine } from './manifest.js';
import { addCounts } from './sim-report.js';
import { formatCounts, textTable, type Cell } from './text-table.js';

export const PHASES = ['before', 'during', 'after'] as const;
export type Phase = (typeof PHASES)[number];

export interface MultihostInput {
  /** Host name → its address in the test subnet. */
  hosts: Record<string, string>;
  servers: Array<{ id: number; policy: number; host: string }>;
  cut: { host: string; afterMs: number };
  /** One load client per policy and phase. */
  phases: Record<Phase, Array<{ policy: number; exitCode: number; summary: LoadSummary | undefined }>>;
  brokerLog: LogEvent[];
}

export interface PhaseTotals {
  sent: number;
  answered: number;
  lost: number;
  errors: Record<string, number>;
  verified: number;
  verifyFailed: number;
  /** Policy → server id → replies. */
  byPolicy: Record<string, Record<string, number>>;
}

export interface MultihostReport {
  ok: boolean;
  problems: string[];
  /** Where the broker listened. */
  broker: string | undefined;
  /** Server id → the address the broker registered (and dials) it at. */
  registered: Record<string, string>;
  before: PhaseTotals;
  during: PhaseTotals;
  after: PhaseTotals;
  cut: { host: string; address: string; servers: number[]; afterMs: number; brokerEvents: Record<string, string[]> };
  /** Every cut server was taken out by the broker, nothing was lost, and afterwards only the others served. */
  failover: boolean;
}

/**
 * The manifest multihost.sh writes: `host NAME ADDRESS`, `server ID POLICY HOST`, `cut HOST AFTER_MS`,
 * `phase PHASE POLICY EXIT FILE`, `brokerlog FILE`.
 */
export function multihostInput(manifest: ManifestLine[], read: (path: string) => string, logEvents: (path: string) => LogEvent[]): MultihostInput {
  const hosts = Object.fromEntries(linesOf(manifest, 'host').map(([name, address]) => [name ?? '', address ?? '']));
  const servers = linesOf(manifest, 'server').map(([id, policy, host]) => ({ id: int(id, 'server id'), policy: int(policy, 'server policy'), host: host ?? '' }));
  const [cutHost, cutAfter] = linesOf(manifest, 'cut')[0] ?? [];
  const phases: MultihostInput['phases'] = { before: [], during: [], after: [] };
  for (const [phase, policy, exitCode, file] of linesOf(manifest, 'phase')) {
    if (!(PHASES as readonly string[]).includes(phase ?? '')) throw new Error(`manifest: unknown phase "${String(phase)}"`);
    phases[phase as Phase].push({ policy: int(policy, 'phase policy'), exitCode: int(exitCode, 'phase exit code'), summary: summaryFrom(read(file ?? '')) });
  }
  const logFile = linesOf(manifest, 'brokerlog')[0]?.[0];
  return {
    hosts,
    servers,
    cut: { host: cutHost ?? '', afterMs: cutAfter === undefined ? 0 : int(cutAfter, 'cut time') },
    phases,
    brokerLog: logFile === undefined ? [] : logEvents(logFile),
  };
}

export function multihostReport(input: MultihostInput): MultihostReport {
  const problems: string[] = [];
  const registered: Record<string, string> = {};
  for (const event of input.brokerLog) {
    if (event.message === 'server registered' && typeof event.id === 'number' && typeof event.address === 'string') registered[String(event.id)] = event.address;
  }
  const broker = input.brokerLog.find((e) => e.message === 'broker listening')?.address as string | undefined;

  for (const server of input.servers) {
    const address = registered[String(server.id)];
    const expected = input.hosts[server.host];
    if (address === undefined) problems.push(`the broker never registered server ${server.id}`);
    else if (hostOf(address) !== expected) problems.push(`server ${server.id} runs on ${server.host} (${String(expected)}) but the broker registered it at ${address}`);
  }

  const totals = Object.fromEntries(PHASES.map((phase) => [phase, phaseTotals(input.phases[phase])])) as Record<Phase, PhaseTotals>;
  for (const phase of PHASES) {
    for (const run of input.phases[phase]) {
      if (run.summary === undefined) problems.push(`${phase}: the client of policy ${run.policy} printed no summary (exit code ${run.exitCode})`);
    }
    const t = totals[phase];
    if (t.lost > 0) problems.push(`${phase}: ${t.lost} packets lost (no answer)`);
    if (t.verifyFailed > 0) problems.push(`${phase}: ${t.verifyFailed} replies failed SHA-1 verification`);
    // During the cut, packets may end as explicit errors; before and after, nothing may fail.
    if (phase !== 'during' && formatCounts(t.errors) !== 'none') problems.push(`${phase}: error answers: ${formatCounts(t.errors)}`);
  }

  const cutServers = input.servers.filter((s) => s.host === input.cut.host);
  let failover = cutServers.length > 0 && totals.during.lost === 0;
  for (const server of input.servers) {
    const before = totals.before.byPolicy[String(server.policy)]?.[String(server.id)] ?? 0;
    if (before === 0) problems.push(`before the cut, server ${server.id} (${server.host}) served nothing`);
    const after = totals.after.byPolicy[String(server.policy)]?.[String(server.id)] ?? 0;
    const cut = server.host === input.cut.host;
    if (cut && after > 0) problems.push(`after the cut, server ${server.id} on the cut host still served ${after}`);
    if (!cut && after === 0) problems.push(`after the cut, server ${server.id} (${server.host}) served nothing`);
    if (cut ? after > 0 : after === 0) failover = false;
  }
  const brokerEvents: Record<string, string[]> = {};
  for (const server of cutServers) {
    brokerEvents[String(server.id)] = [...new Set(lossEventsOf(input.brokerLog, server.id))];
    if (brokerEvents[String(server.id)]!.length === 0) {
      problems.push(`the broker logged nothing about losing server ${server.id}`);
      failover = false;
    }
  }
  if (cutServers.length === 0) problems.push(`no server runs on the cut host "${input.cut.host}"`);

  return {
    ok: problems.length === 0,
    problems,
    broker,
    registered,
    before: totals.before,
    during: totals.during,
    after: totals.after,
    cut: { host: input.cut.host, address: input.hosts[input.cut.host] ?? '', servers: cutServers.map((s) => s.id), afterMs: input.cut.afterMs, brokerEvents },
    failover,
  };
}

function phaseTotals(runs: MultihostInput['phases'][Phase]): PhaseTotals {
  const summaries = runs.filter((r) => r.summary !== undefined).map((r) => r.summary!);
  const byPolicy: Record<string, Record<string, number>> = {};
  for (const run of runs) if (run.summary !== undefined) byPolicy[String(run.policy)] = addCounts([byPolicy[String(run.policy)] ?? {}, run.summary.byServer]);
  const total = (pick: (s: LoadSummary) => number) => summaries.reduce((n, s) => n + pick(s), 0);
  return {
    sent: total((s) => s.sent),
    answered: total((s) => s.answered),
    lost: total((s) => s.lost),
    errors: addCounts(summaries.map((s) => s.errors)),
    verified: total((s) => s.verified),
    verifyFailed: total((s) => s.verifyFailed),
    byPolicy,
  };
}

/** "10.203.0.11:7100" → "10.203.0.11"; also "[::1]:7100" → "::1". */
function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return (i < 0 ? address : address.slice(0, i)).replace(/^\[|\]$/g, '');
}

/** Who served in each phase, where the broker reached each server, and the verdict. */
export function formatMultihostReport(report: MultihostReport, input: MultihostInput): string {
  const rows: Cell[][] = input.servers.map((s) => [
    String(s.id),
    String(s.policy),
    `${s.host}${s.host === report.cut.host ? ' (cut)' : ''}`,
    report.registered[String(s.id)] ?? '-',
    report.before.byPolicy[String(s.policy)]?.[String(s.id)] ?? 0,
    report.during.byPolicy[String(s.policy)]?.[String(s.id)] ?? 0,
    report.after.byPolicy[String(s.policy)]?.[String(s.id)] ?? 0,
  ]);
  const line = (name: string, t: PhaseTotals) =>
    `${name.padEnd(7)} sent ${t.sent}, answered ${t.answered}, lost ${t.lost}, errors ${formatCounts(t.errors)}, verified ${t.verified}/${t.sent}`;
  const events = Object.entries(report.cut.brokerEvents).map(([id, list]) => `${id}: ${list.join(', ') || 'nothing'}`);
  return [
    textTable(['server', 'policy', 'host', 'broker dials', 'before', 'during', 'after'], rows),
    '',
    line('before', report.before),
    line('during', report.during),
    line('after', report.after),
    `link of ${report.cut.host} (${report.cut.address}) cut ${(report.cut.afterMs / 1000).toFixed(1)} s into the load; broker: ${events.join('; ')}`,
    report.ok ? 'result: OK (failover, nothing lost)' : `result: FAILED\n${report.problems.map((p) => `  - ${p}`).join('\n')}`,
  ].join('\n') + '\n';
}
