/**
 * The bursts suite's report: docs/benchmarks-bursts.md (and the raw runs beside it, in
 * docs/benchmarks-bursts.json), written whenever the suite runs, with or without --only. Each
 * goal says met, missed, or noisy (measured while the machine was busy: neither met nor missed).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../lib/programs.js';
import { anyNoisy, median, NOISY_CORES, type RunRecord } from './results.js';
import { BURST_SUITES, DEFAULT_LISTEN_SOCKETS } from './bursts.js';


export interface BurstGoal {
  what: string;
  measured: string;
  goal: string;
  verdict: 'met' | 'missed' | 'noisy' | 'not run';
}

type Shape = Record<string, number | undefined>;

const shapeOf = (r: RunRecord): Shape => (r.shape ?? {}) as Shape;
const runsOf = (records: readonly RunRecord[], suite: string, name: string): RunRecord[] => records.filter((r) => r.suite === suite && r.case === name);
const med = (runs: readonly RunRecord[], pick: (r: RunRecord) => number | undefined): number => median(runs.map(pick).filter((v): v is number => v !== undefined));

/** The broker case on Node 24 with the default number of sockets, if it ran. */
function node24Broker(records: readonly RunRecord[], suite: string): string | undefined {
  return [...new Set(records.filter((r) => r.suite === suite).map((r) => r.case))].find((c) => /^policy-broker \(node 24[^,]*\)$/.test(c));
}

export function burstGoals(records: readonly RunRecord[]): BurstGoal[] {
  const goals: BurstGoal[] = [];
  const verdict = (runs: RunRecord[], ok: boolean): BurstGoal['verdict'] => (runs.length === 0 ? 'not run' : anyNoisy(runs) ? 'noisy' : ok ? 'met' : 'missed');
  const a = BURST_SUITES.assignment;
  const oursA = node24Broker(records, a);
  const nginxA = runsOf(records, a, 'nginx');
  const runsA = oursA === undefined ? [] : [...runsOf(records, a, oursA), ...nginxA];
  if (oursA !== undefined && nginxA.length > 0) {
    const ours = runsOf(records, a, oursA);
    const timeouts = med(ours, (r) => shapeOf(r).timeouts);
    const nginxTimeouts = med(nginxA, (r) => shapeOf(r).timeouts);
    goals.push({ what: `assignment (wrk -t10 -c1000 -d10s), ${oursA}: timeouts`, measured: `${timeouts} (nginx ${nginxTimeouts})`, goal: '≤ nginx + 10', verdict: verdict(runsA, timeouts <= nginxTimeouts + 10) });
    const errors = Math.max(...ours.map((r) => r.errors));
    goals.push({ what: `assignment, ${oursA}: errors (connect, read, write, non-2xx)`, measured: String(errors), goal: '0', verdict: verdict(runsA, errors === 0) });
    const p99 = med(ours, (r) => r.p99Ms) / med(nginxA, (r) => r.p99Ms);
    goals.push({ what: `assignment, ${oursA}: p99 vs nginx`, measured: `${p99.toFixed(2)}×`, goal: '≤ 2×', verdict: verdict(runsA, p99 <= 2) });
    const rps = med(ours, (r) => r.rps) / med(nginxA, (r) => r.rps);
    goals.push({ what: `assignment, ${oursA}: throughput vs nginx`, measured: `${rps.toFixed(2)}×`, goal: '≥ 0.6×', verdict: verdict(runsA, rps >= 0.6) });
  }
  const b = BURST_SUITES.atOnce;
  const oursB = node24Broker(records, b);
  const nginxB = runsOf(records, b, 'nginx');
  if (oursB !== undefined && nginxB.length > 0) {
    const ours = runsOf(records, b, oursB);
    const runs = [...ours, ...nginxB];
    const over = Math.max(...ours.map((r) => shapeOf(r).over2s ?? Infinity));
    goals.push({ what: `1,000 at once under wrk -t2 -c128, ${oursB}: answered after 2 s`, measured: `${over} (worst round)`, goal: '0', verdict: verdict(runs, over === 0) });
    const p99 = med(ours, (r) => r.p99Ms);
    const nginxP99 = med(nginxB, (r) => r.p99Ms);
    goals.push({ what: `1,000 at once, ${oursB}: p99 vs nginx's`, measured: `${p99.toFixed(0)} ms (nginx ${nginxP99.toFixed(0)} ms)`, goal: '≤ nginx', verdict: verdict(runs, p99 <= nginxP99) });
  }
  return goals;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function caseTable(records: readonly RunRecord[], suite: string, columns: Array<[string, (runs: RunRecord[]) => string]>): string {
  const names = [...new Set(records.filter((r) => r.suite === suite).map((r) => r.case))];
  return table(
    ['case', ...columns.map(([title]) => title)],
    names.map((name) => {
      const runs = runsOf(records, suite, name);
      return [name, ...columns.map(([, cell]) => cell(runs))];
    }),
  );
}

const list = (runs: RunRecord[], pick: (r: RunRecord) => number | undefined, digits = 0): string => runs.map((r) => pick(r)?.toFixed(digits) ?? '–').join(', ');

export function renderBurstReport(records: readonly RunRecord[], meta: { startedAt: string; commit: string; machine: string; loadBefore: number[] }): string {
  const goals = burstGoals(records);
  const busiest = Math.max(0, ...records.map((r) => r.busyBefore ?? 0));
  return [
    '# Bursts of connections: measured',
    '',
    '<!-- Generated by `npm run bench -- --only bursts` (scripts/bench/bursts.ts) from benchmarks-bursts.json; do not edit by hand. -->',
    '',
    `Run on ${meta.startedAt.slice(0, 16).replace('T', ' ')} UTC, build \`${meta.commit}\`, ${meta.machine}; load average before: ${meta.loadBefore.join(' ')}; ` +
      `busiest moment before a case: ${busiest} cores of other work (a case above ${NOISY_CORES} is **noisy**). ` +
      `Every case names its Node runtime; the default is --listen-sockets ${DEFAULT_LISTEN_SOCKETS}. Figures per round, in round order. ` +
      'Why and how: [benchmarks.md, "Bursts of connections"](benchmarks.md#bursts-of-connections).',
    '',
    '## Goals',
    '',
    table(['goal', 'measured', 'wanted', 'verdict'], goals.map((g) => [g.what, g.measured, g.goal, `**${g.verdict}**`])),
    '',
    "## The assignment's wrk -t10 -c1000 -d10s --latency over three nginx sites",
    '',
    caseTable(records, BURST_SUITES.assignment, [
      ['req/s', (runs) => list(runs, (r) => r.rps)],
      ['p99 ms', (runs) => list(runs, (r) => r.p99Ms)],
      ['timeouts', (runs) => list(runs, (r) => shapeOf(r).timeouts)],
      ['other errors', (runs) => list(runs, (r) => r.errors)],
      ['ListenOverflows', (runs) => list(runs, (r) => shapeOf(r).listenOverflows)],
      ['CPU (cores)', (runs) => list(runs, (r) => r.cpu?.target, 2)],
    ]),
    '',
    '## 1,000 connections opened at once while wrk -t2 -c128 keeps the front end busy',
    '',
    'The wait is from connect() to the first bytes of the answer; "after 2 s" counts the connections answered later than that.',
    '',
    caseTable(records, BURST_SUITES.atOnce, [
      ['after 2 s', (runs) => list(runs, (r) => shapeOf(r).over2s)],
      ['failed', (runs) => list(runs, (r) => shapeOf(r).failed)],
      ['p50 ms', (runs) => list(runs, (r) => r.p50Ms)],
      ['p99 ms', (runs) => list(runs, (r) => r.p99Ms)],
      ['max ms', (runs) => list(runs, (r) => r.maxMs)],
      ['ListenOverflows', (runs) => list(runs, (r) => shapeOf(r).listenOverflows)],
    ]),
    '',
  ].join('\n');
}

export function writeBurstReport(records: readonly RunRecord[], meta: Parameters<typeof renderBurstReport>[1]): string {
  const md = path.join(REPO_ROOT, 'docs/benchmarks-bursts.md');
  writeFileSync(path.join(REPO_ROOT, 'docs/benchmarks-bursts.json'), JSON.stringify({ ...meta, records }, null, 1) + '\n');
  writeFileSync(md, renderBurstReport(records, meta));
  return md;
}

/**
 * The "Bursts of connections" section of docs/benchmarks.md: the diagnosis, and the before and
 * after from the last bursts run (docs/benchmarks-bursts.json), where there is one.
 */
export function burstsSection(saved: { startedAt: string; records: RunRecord[] } | undefined): string[] {
  const out = [
    '## Bursts of connections',
    '',
    "The HTTP assignment's own test, `wrk -t10 -c1000 -d10s --latency`, opens 1,000 connections at once. Before this round about " +
      'half of them were never served during the run (wrk counted 458-541 timeouts, nginx as the load balancer 0), while the p99 of ' +
      'the requests that were served was no worse than nginx\'s. The connections were not refused: they waited in the kernel.',
    '',
    "**The cause.** Since libuv 1.45 (Node 20 and later; libuv's \"don't accept() connections in a loop\") a listening socket accepts " +
      'one connection per turn of the event loop. A proxy under load does a lot of work each turn (many sockets are readable at once), ' +
      'so it took on 50-100 new connections a second: sampled during the wrk run, the listen socket\'s accept queue went 910 → 476 over ' +
      "8.5 s while the broker's open descriptors grew 214 → 936. A bare `node:http` server shows the same. The backlog was not it: at " +
      "Node's default 511 the kernel counted 2,000-2,900 `ListenOverflows` per run, and with 4,096 the overflows went to 0 but the " +
      'timeouts stayed.',
    '',
    '**The fix.** Several listening sockets on the same port (SO_REUSEPORT, `server.listen({ reusePort: true })`, Node 22.12 and ' +
      "later): the kernel spreads new connections over their queues and each turn accepts one per socket. Every extra socket hands " +
      "what it accepts to the one server (`server.emit('connection', socket)`), so a connection is served the same whichever socket " +
      'took it. `--listen-sockets` (default 16, the packet and the HTTP port alike, and in each `--workers` worker) and ' +
      '`--listen-backlog` (default 4,096; Linux caps it at `net.core.somaxconn`, 4,096 since 5.4) set them. The port is claimed once ' +
      'without SO_REUSEPORT first, so that a second broker on the same port still fails with EADDRINUSE instead of silently ' +
      'sharing its traffic. Where Node has no reusePort (Node 20, 22 before 22.12) the broker listens on one socket and says so ' +
      'once at start: "new connections are accepted one per event-loop turn: bursts wait; use Node 22.12 or later".',
    '',
  ];
  if (saved === undefined) return [...out, 'No bursts run recorded yet: `npm run bench -- --only bursts`.', ''];
  const rows: string[][] = [];
  for (const suite of [BURST_SUITES.assignment, BURST_SUITES.atOnce]) {
    for (const name of [...new Set(saved.records.filter((r) => r.suite === suite).map((r) => r.case))]) {
      const runs = runsOf(saved.records, suite, name);
      rows.push([
        suite === BURST_SUITES.assignment ? 'wrk -t10 -c1000 -d10s' : '1,000 at once under wrk -t2 -c128',
        name,
        suite === BURST_SUITES.assignment ? `${list(runs, (r) => shapeOf(r).timeouts)} timeouts` : `${list(runs, (r) => shapeOf(r).over2s)} after 2 s`,
        list(runs, (r) => r.p99Ms),
        suite === BURST_SUITES.assignment ? list(runs, (r) => r.rps) : '–',
        list(runs, (r) => shapeOf(r).listenOverflows),
      ]);
    }
  }
  return [
    ...out,
    `Measured on ${saved.startedAt.slice(0, 16).replace('T', ' ')} UTC (each figure per round; the whole run, goals and noise: [benchmarks-bursts.md](benchmarks-bursts.md)). ` +
      '"Before" is policy-broker with one socket: on Node 20, or on Node 24 with `--listen-sockets 1`.',
    '',
    table(['load', 'case', 'unserved', 'p99 ms', 'req/s', 'ListenOverflows'], rows),
    '',
  ];
}
