/**
 * The written results: docs/benchmarks.json (every raw run), docs/benchmarks.md (generated
 * from it: machine, versions, commands, medians, ranges, ratios, goals) and the results block
 * between `<!-- bench:start -->` and `<!-- bench:end -->` in README.md. No figure here is typed
 * by hand: each comes from a run record.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../lib/programs.js';
import {
  GOALS,
  HTTP_BACKENDS,
  HTTP_PIPELINE_CONNECTIONS,
  HTTP_PIPELINE_DEPTH,
  MANY_CONNECTIONS,
  NET_FLOOR,
  PACKET_SHAPE,
  PAYLOAD_SIZES,
  REGISTRY_CASES,
  NATS_MANY_RESPONDERS,
  REGISTRY_SUITES,
  SERVER_COUNTS,
  type Mode,
  type Timing,
} from './config.js';
import type { Environment } from './environment.js';
import { burstsSection } from './bursts-report.js';
import { anyNoisy, find, pairedRatio, summarize, type CaseSummary, type RunRecord } from './results.js';
import { COLD_CONCURRENCY, COLD_REQUESTS, COLD_SUITES } from './cold-start.js';
import { IDLE_FLOOR } from './packet-cases.js';

export interface BenchRun {
  mode: Mode;
  startedAt: string;
  durationS: number;
  argv: string[];
  env: Omit<Environment, 'missing'> & { missing: string[] };
  timing: Timing;
  records: RunRecord[];
}

export interface StepSide {
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p99Ms: number | undefined;
  /** CPU time per answer, µs: of the broker, and of the server pool. */
  brokerUs: number | undefined;
  serversUs: number | undefined;
  /** The broker's RSS growth per idle client connection, when the idle-memory suite ran too. */
  idleBytesPerConnection?: number;
}

/** One optimisation step: the build before it and the build after it, side by side in one run. */
export interface OptimisationStep {
  label: string;
  note: string;
  /** The suite compared; absent in steps recorded before HTTP steps existed (packets). */
  suite?: string;
  date: string;
  commit: string;
  mode: Mode;
  rounds: number;
  before: StepSide;
  after: StepSide;
  /** after/before, per round, median and range. */
  gain: { median: number; min: number; max: number };
  limitRps: number | undefined;
}

const DOCS = path.join(REPO_ROOT, 'docs');
const RUN_FILE = path.join(DOCS, 'benchmarks.json');
const PARTIAL_FILE = path.join(REPO_ROOT, 'test-output', 'bench', 'last.json');
const OPTIMISATIONS_FILE = path.join(DOCS, 'benchmarks-optimisations.json');
/** The assignment's wrk -c1000 over a stock nginx (scripts/bench/assignment-c1000.sh), kept by hand: not a suite of this harness. */
const ASSIGNMENT_FILE = path.join(DOCS, 'benchmarks-c1000.md');
const BURSTS_FILE = path.join(DOCS, 'benchmarks-bursts.json');
const REPORT_FILE = path.join(DOCS, 'benchmarks.md');
const README = path.join(REPO_ROOT, 'README.md');
const README_START = '<!-- bench:start -->';
const README_END = '<!-- bench:end -->';

/** Saves the raw runs: the docs' JSON for a complete run, test-output/ for a partial one. */
export function writeRun(run: BenchRun, complete: boolean): string {
  const file = complete ? RUN_FILE : PARTIAL_FILE;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(run, null, 1) + '\n');
  return path.relative(REPO_ROOT, file);
}

export function readRun(): BenchRun {
  return JSON.parse(readFileSync(RUN_FILE, 'utf8')) as BenchRun;
}

function readOptimisations(): OptimisationStep[] {
  return existsSync(OPTIMISATIONS_FILE) ? (JSON.parse(readFileSync(OPTIMISATIONS_FILE, 'utf8')) as OptimisationStep[]) : [];
}

/**
 * Adds (or replaces, by label) one step, from a packets run: the variant named "after" (or, when
 * there is none, this build) against the variant named "before".
 */
export function appendOptimisation(run: BenchRun, label: string, note: string, suite = 'packets'): void {
  const summaries = summarize(run.records);
  const afterName = summaries.some((c) => c.suite === suite && c.case === 'policy-broker@after') ? 'policy-broker@after' : 'policy-broker';
  const beforeName = 'policy-broker@before';
  const after = find(summaries, suite, afterName);
  const before = find(summaries, suite, beforeName);
  const gain = pairedRatio(run.records, suite, afterName, beforeName);
  if (after === undefined || before === undefined || gain === undefined) throw new Error(`--record needs a --variant named "before" in the ${suite} suite`);
  // In the HTTP suites the broker is the proxy and the servers are the backends.
  const http = suite.startsWith('http-');
  const side = (s: CaseSummary) => ({
    rps: s.rps,
    rpsMin: s.rpsMin,
    rpsMax: s.rpsMax,
    p99Ms: s.p99Ms,
    brokerUs: http ? s.cpuUs.proxy : s.cpuUs.broker,
    serversUs: http ? s.cpuUs.backends : s.cpuUs.servers,
    idleBytesPerConnection: run.records.find((r) => r.suite === 'memory-idle' && r.case === s.case)?.memory?.bytesPerConnection as number | undefined,
  });
  const step: OptimisationStep = {
    label,
    note,
    suite,
    date: run.startedAt,
    commit: run.env.commit,
    mode: run.mode,
    rounds: after.runs,
    before: side(before),
    after: side(after),
    gain,
    limitRps: find(summaries, 'packets', 'limit')?.rps,
  };
  const steps = readOptimisations().filter((s) => s.label !== label);
  steps.push(step);
  writeFileSync(OPTIMISATIONS_FILE, JSON.stringify(steps, null, 1) + '\n');
}

// ---------------------------------------------------------------- formatting

const int = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const ms = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const x = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(2)}×`);
const us = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(1));
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const pct = (n: number): string => `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)} %`;
const verdict = (met: boolean | undefined | null, noisy = false): string =>
  met === null ? '' : met === undefined ? 'not measured' : noisy ? '**noisy** (busy machine: rerun)' : met ? '**met**' : '**missed**';

function range(s: CaseSummary): string {
  return s.runs > 1 ? `${int(s.rpsMin)}–${int(s.rpsMax)}` : '(1 run)';
}

function p99Range(s: CaseSummary): string {
  return s.runs > 1 && s.p99Min !== undefined ? `${ms(s.p99Min)}–${ms(s.p99Max)}` : '';
}

function cpu(s: CaseSummary): string {
  return Object.entries(s.cpu)
    .map(([name, cores]) => `${name} ${cores.toFixed(2)}`)
    .join(', ');
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

// ---------------------------------------------------------------- the goals

interface Goal {
  what: string;
  measured: string;
  goal: string;
  /** undefined: not measured; null: for information, no target. */
  met: boolean | undefined | null;
  /** A run of a case it compares started on a machine busy with other work: neither met nor missed. */
  noisy?: boolean;
}

/** Whether any run of these cases of `suite` started on a busy machine. */
function noisyIn(r: readonly RunRecord[], suite: string, ...cases: string[]): boolean {
  return anyNoisy(r.filter((x) => x.suite === suite && cases.includes(x.case)));
}

/** One idle-memory record's figures. */
function idleOf(r: readonly RunRecord[], name: string): { rssIdle: number; connections: number; bytesPerConnection: number } | undefined {
  return r.find((x) => x.suite === 'memory-idle' && x.case === name)?.memory as { rssIdle: number; connections: number; bytesPerConnection: number } | undefined;
}

function goals(run: BenchRun, s: CaseSummary[]): Goal[] {
  const r = run.records;
  const out: Goal[] = [];
  /** Ours over `peer` in one suite, paired per round, against `goal` (at least). */
  const ratioGoal = (what: string, suite: string, ours: string, peer: string, goal: number | null): void => {
    const ratio = pairedRatio(r, suite, ours, peer);
    out.push({
      what,
      measured: x(ratio?.median),
      goal: goal === null ? 'information' : `≥ ${goal}×`,
      met: goal === null ? null : ratio === undefined ? undefined : ratio.median >= goal,
      noisy: noisyIn(r, suite, ours, peer),
    });
  };
  ratioGoal('packets: policy-broker vs NATS, round trips/s', 'packets', 'policy-broker', 'nats', GOALS.natsRatio);
  ratioGoal('packets: policy-broker vs the limit (one server directly)', 'packets', 'policy-broker', 'limit', GOALS.limitRatio);
  const broker = find(s, 'packets', 'policy-broker');
  out.push({
    what: 'packets: policy-broker p99 at 64 in flight',
    measured: `${ms(broker?.p99Ms)} ms`,
    goal: `≤ ${GOALS.p99Ms} ms`,
    met: broker?.p99Ms === undefined ? undefined : broker.p99Ms <= GOALS.p99Ms,
    noisy: noisyIn(r, 'packets', 'policy-broker'),
  });
  if (s.some((c) => c.suite === 'payload-65536')) ratioGoal('packets: 64 KiB payloads vs NATS', 'payload-65536', 'policy-broker', 'nats', GOALS.payload64kNatsRatio);
  if (s.some((c) => c.suite === 'servers')) {
    ratioGoal('packets: 1,000 servers vs NATS with 1,000 queue responders', 'servers', '1000 servers', NATS_MANY_RESPONDERS, GOALS.servers1000NatsRatio);
    ratioGoal('packets: 1,000 servers vs 3 servers in the policy', 'servers', '1000 servers', '3 servers', null);
  }
  const idle = idleOf(r, 'policy-broker');
  const floor = idleOf(r, IDLE_FLOOR);
  if (idle !== undefined) {
    out.push({
      what: `memory: bytes per idle client connection (${int(idle.connections)}) vs a bare node:net server`,
      measured: floor === undefined ? `${int(idle.bytesPerConnection)} B` : `${x(idle.bytesPerConnection / floor.bytesPerConnection)} (${int(idle.bytesPerConnection)} B vs ${int(floor.bytesPerConnection)} B)`,
      goal: `≤ ${GOALS.idleVsFloor}×`,
      met: floor === undefined ? undefined : idle.bytesPerConnection <= GOALS.idleVsFloor * floor.bytesPerConnection,
      noisy: noisyIn(r, 'memory-idle', 'policy-broker', IDLE_FLOOR),
    });
  }
  const soak = r.find((x) => x.suite === 'memory-soak')?.memory as { rssEarly: number; rssEnd: number; label: string } | undefined;
  if (soak !== undefined) {
    out.push({ what: `memory: RSS growth under load (${soak.label})`, measured: x(soak.rssEnd / soak.rssEarly), goal: `≤ ${GOALS.soakGrowth}×`, met: soak.rssEnd / soak.rssEarly <= GOALS.soakGrowth });
  }
  ratioGoal('HTTP (256 connections): vs the minimal Node proxy', 'http-256', 'policy-broker', 'minimal-node-proxy', GOALS.httpMinimalRatio);
  ratioGoal('HTTP (256 connections): vs node-http-proxy', 'http-256', 'policy-broker', 'node-http-proxy', GOALS.httpNodeProxyRatio);
  ratioGoal('HTTP (256 connections): vs nginx', 'http-256', 'policy-broker', 'nginx', null);
  const ours256 = find(s, 'http-256', 'policy-broker');
  const nginx256 = find(s, 'http-256', 'nginx');
  out.push({
    what: 'HTTP: p99 at 256 connections vs nginx',
    measured: ours256 && nginx256 ? x(ours256.p99Ms! / nginx256.p99Ms!) : '–',
    goal: `≤ ${GOALS.httpP99VsNginx}×`,
    met: ours256 && nginx256 ? ours256.p99Ms! <= GOALS.httpP99VsNginx * nginx256.p99Ms! : undefined,
    noisy: noisyIn(r, 'http-256', 'policy-broker', 'nginx'),
  });
  ratioGoal('HTTP: --workers 2 vs nginx with 2 workers', 'http-workers-256', 'policy-broker --workers 2', 'nginx (2 workers)', GOALS.httpWorkersNginxRatio);
  const coldOurs = find(s, COLD_SUITES.cold, 'policy-broker');
  const coldNginx = find(s, COLD_SUITES.cold, 'nginx');
  if (coldOurs !== undefined && coldNginx !== undefined) {
    out.push({
      what: `HTTP cold start: \`ab -n ${COLD_REQUESTS} -c ${COLD_CONCURRENCY} -k\` just after start, p99 vs nginx's`,
      measured: `${x(coldOurs.p99Ms! / coldNginx.p99Ms!)} (${ms(coldOurs.p99Ms)} vs ${ms(coldNginx.p99Ms)} ms; ${int(coldOurs.rps)} vs ${int(coldNginx.rps)}/s)`,
      goal: 'information',
      met: null,
    });
  }
  // Only when the registry suite ran: runs recorded before it existed have no such line.
  if (pairedRatio(r, REGISTRY_SUITES.oneBroker, REGISTRY_CASES.redis, REGISTRY_CASES.memory) !== undefined) {
    ratioGoal('registry: packets with --registry redis vs in memory', REGISTRY_SUITES.oneBroker, REGISTRY_CASES.redis, REGISTRY_CASES.memory, GOALS.registryRedisRatio);
  }
  return out;
}

// ---------------------------------------------------------------- the report

/** A comparison table: each case's median, range, p50/p99, ratio to `base` (paired per round), CPU. */
function comparison(run: BenchRun, s: CaseSummary[], suite: string, base: string, ours = 'policy-broker'): string {
  const rows = s
    .filter((c) => c.suite === suite)
    .map((c) => {
      const vsBase = c.case === base ? undefined : pairedRatio(run.records, suite, c.case, base);
      const oursVs = c.case === ours ? undefined : pairedRatio(run.records, suite, ours, c.case);
      return [
        c.case,
        int(c.rps),
        range(c),
        ms(c.p50Ms),
        `${ms(c.p99Ms)}${p99Range(c) === '' ? '' : ` (${p99Range(c)})`}`,
        c.case === base ? '1.00×' : x(vsBase?.median),
        c.case === ours ? '' : x(oursVs?.median),
        String(c.errors),
        cpu(c),
        Object.entries(c.cpuUs).map(([name, v]) => `${name} ${v.toFixed(1)}`).join(', '),
      ];
    });
  return table(['case', 'median /s', 'min–max /s', 'p50 ms', 'p99 ms (min–max)', `vs ${base}`, `${ours} vs it`, 'errors', 'CPU, cores', 'CPU µs per answer'], rows);
}

function commands(run: BenchRun): string {
  const t = run.timing;
  const load = `node dist/scripts/bench/packet-load.js --protocol ndjson --port PORT --connections ${PACKET_SHAPE.connections} --inflight ${PACKET_SHAPE.inflight} --payload-bytes ${PACKET_SHAPE.payloadBytes} --policy ${PACKET_SHAPE.policy} --warmup-ms ${t.warmupMs} --duration-ms ${t.durationMs}`;
  const wrk = [...new Set(run.records.filter((r) => r.command !== undefined).map((r) => r.command!.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')))];
  return [
    '```',
    `npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}     # everything below, then this file`,
    '',
    '# packets: the processes (PORT = a free loopback port, from their ready lines)',
    'node dist/broker/main.js --port 0',
    `node dist/server-pool/main.js --broker 127.0.0.1:PORT --count ${PACKET_SHAPE.servers} --policy ${PACKET_SHAPE.policy}   # --count 1, 10, 1000 for the server cases`,
    'nats-server -a 127.0.0.1 -p PORT',
    `node dist/scripts/bench/nats-responders.js --port PORT --count ${PACKET_SHAPE.servers}`,
    '# the load: to the broker, to one server of the pool directly (limit), or to NATS (--protocol nats)',
    load,
    `node dist/client/main.js --broker 127.0.0.1:PORT --policy ${PACKET_SHAPE.policy} --duration ${Math.max(1, Math.round(t.durationMs / 1000))} --concurrency ${PACKET_SHAPE.inflight} --connections ${PACKET_SHAPE.connections} --payload-size ${PACKET_SHAPE.payloadBytes} --json`,
    `node dist/scripts/bench/idle-connections.js --port PORT --count ${t.idleConnections}`,
    '',
    `# HTTP: ${HTTP_BACKENDS} backends (one nginx, 1 worker, a small page on ${HTTP_BACKENDS} ports); proxies over them:`,
    '#   nginx -c nginx.conf      worker_processes 1; upstream keepalive 256; proxy_http_version 1.1',
    '#   haproxy -f haproxy.cfg -db   nbthread 1; balance roundrobin; http-reuse always',
    '#   node dist/scripts/bench/http-peers.js --kind http-proxy|minimal --backends P1,P2,P3',
    '#   node dist/scripts/bench/net-floor-proxy.js --backends P1,P2,P3          # the node:net floor',
    '#   node dist/broker/main.js --port 0 --http-port PORT --servers servers.conf',
    ...wrk,
    '```',
  ].join('\n');
}

export function renderReport(run: BenchRun): string {
  const s = summarize(run.records);
  const env = run.env;
  const m = env.machine;
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines);
  push(
    '# Benchmarks',
    '',
    `<!-- Generated by \`npm run bench\` (scripts/bench/) from docs/benchmarks.json; do not edit by hand. -->`,
    '',
    `Run in **${run.mode} mode** on ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, in ${run.durationS} s, build \`${env.commit}\`. ` +
      `Every case of a table ran once per round, the cases of a round in a rotating order, all their processes up throughout; ` +
      `ratios are computed per round (both sides measured minutes apart at most) and their median is shown. ` +
      `The raw runs are in [benchmarks.json](benchmarks.json).`,
    '',
    '## Machine',
    '',
    table(
      ['what', 'value'],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} cores`],
        ['memory', `${m.memoryGiB} GiB`],
        ['kernel', m.kernel],
        ['Node', m.node],
        ['load average at the start', m.loadAverage.join(', ')],
        ['open-file limit', String(m.fileDescriptorLimit)],
        ['policy-broker', `${env.policyBrokerVersion} (${env.commit})`],
        ...Object.entries(env.versions).map(([name, v]) => [name, v]),
        ...(env.missing.length > 0 ? [['missing (cases skipped)', env.missing.join(', ')]] : []),
      ],
    ),
    'The machine is shared: other work may run during a run. The CPU columns say, per case, how many cores each process group used ' +
      'in the measured window, and `machine` how many were busy in all (ours and anything else).',
    '',
    '## Goals',
    '',
    table(
      ['goal', 'measured', 'target', ''],
      goals(run, s).map((g) => [g.what, g.measured, g.goal, verdict(g.met, g.noisy)]),
    ),
    '## Packets',
    '',
    `One load-generator process keeps ${PACKET_SHAPE.inflight} packets in flight over ${PACKET_SHAPE.connections} connections ` +
      `(${PACKET_SHAPE.payloadBytes}-byte payloads, each answered with its SHA-1), warms up ${run.timing.warmupMs} ms, then counts answers for ` +
      `${run.timing.durationMs} ms; ${run.timing.rounds} rounds. **limit**: the same client straight to one server of the pool (servers answer ` +
      `clients directly too, echoing \`seq\`). **nats**: request/reply through nats-server to a queue group of ${PACKET_SHAPE.servers} responders ` +
      `(one process, one connection each), with the \`nats\` npm client. **policy-broker**: through the broker to ${PACKET_SHAPE.servers} ` +
      `servers of one policy (one policy-server-pool process). **client library**: the same load from \`policy-client\` (runLoad), whole run.` +
      (s.some((c) => c.suite === 'packets' && c.case.startsWith('policy-broker (node'))
        ? ` **policy-broker (node …)**: the same build, broker and servers, on that Node runtime (Node 24 LTS beside the machine's ${run.env.machine.node}).`
        : ''),
    '',
    comparison(run, s, 'packets', 'limit'),
  );
  const perSize = PAYLOAD_SIZES.filter((size) => s.some((c) => c.suite === `payload-${size}`));
  if (perSize.length > 0) {
    push(
      '### Payload sizes',
      '',
      `The same load with payloads of each size (${run.timing.sideRounds} rounds each; here and in the next two tables each run counts ` +
        `answers for ${run.timing.sideDurationMs ?? run.timing.durationMs} ms after its warm-up).`,
      '',
    );
    for (const size of perSize) push(`**${size.toLocaleString('en-US')} bytes**`, '', comparison(run, s, `payload-${size}`, 'limit'));
  }
  const selection = s.filter((c) => c.suite === 'selection');
  if (selection.length > 0) {
    const strategies = [...new Set(selection.map((c) => c.case.split(', ')[0]!))];
    push(
      '### Selection alone',
      '',
      'One `PolicyTable.pick()` plus the outstanding-count bookkeeping of a packet, in-process, no I/O (2,000,000 picks, median of the rounds):',
      '',
      table(
        ['strategy', ...SERVER_COUNTS.map((n) => `${n.toLocaleString('en-US')} servers, ns/pick`)],
        strategies.map((st) => [st, ...SERVER_COUNTS.map((n) => {
          const c = find(s, 'selection', `${st}, ${n} servers`);
          return c === undefined ? '–' : (1e9 / c.rps).toFixed(1);
        })]),
      ),
    );
  }
  if (s.some((c) => c.suite === 'servers')) {
    push(
      '### Servers in the policy',
      '',
      `The main load through brokers whose policy has ${SERVER_COUNTS.join(', ')} servers (each broker with its own pool process; ` +
        `all up at once, so the idle ones' heartbeats run meanwhile). Selection is O(1); what changes with more servers is how many ` +
        `packets share one write: with 1,000 servers and ${PACKET_SHAPE.inflight} in flight, nearly every packet goes to a different socket.`,
      '',
      comparison(run, s, 'servers', '3 servers', '3 servers'),
    );
  }
  if (s.some((c) => c.suite === 'connections-1000')) {
    push('### 1,000 client connections', '', `${MANY_CONNECTIONS.toLocaleString('en-US')} connections from one client process, one packet in flight on each.`, '', comparison(run, s, 'connections-1000', 'limit'));
  }
  const idles = run.records.filter((r) => r.suite === 'memory-idle');
  const soak = run.records.find((r) => r.suite === 'memory-soak');
  if (idles.length > 0 || soak !== undefined) push('## Memory', '');
  if (idles.length > 0) {
    push(
      `The same idle client connections held by the broker (with its ${PACKET_SHAPE.servers} servers registered) and by a bare node:net server ` +
        'that accepts and keeps them, nothing more (the floor of what Node needs per connection).',
      '',
      table(
        ['process', 'idle client connections', 'RSS before', 'RSS with them open', 'per connection', 'main load meanwhile', 'RSS after that load'],
        idles.map((idle) => {
          const mem = idle.memory as { connections: number; rssBefore: number; rssIdle: number; rssAfterLoad?: number; bytesPerConnection: number };
          return [
            idle.case,
            int(mem.connections),
            `${mib(mem.rssBefore)} MiB`,
            `${mib(mem.rssIdle)} MiB`,
            `${int(mem.bytesPerConnection)} B`,
            idle.rps > 0 ? `${int(idle.rps)}/s, p99 ${ms(idle.p99Ms)} ms` : '–',
            mem.rssAfterLoad === undefined ? '–' : `${mib(mem.rssAfterLoad)} MiB`,
          ];
        }),
      ),
    );
  }
  if (soak !== undefined) {
    const mem = soak.memory as { label: string; earlyAtMs: number; rssEarly: number; endAtMs: number; rssEnd: number; rssPeak: number };
    push(
      `Soak (${mem.label}): the main load without pause, the broker's RSS sampled every ${run.timing.soakSampleMs / 1000} s.`,
      '',
      table(
        ['load', `RSS at ${(mem.earlyAtMs / 1000).toFixed(0)} s`, `RSS at ${(mem.endAtMs / 1000).toFixed(0)} s`, 'growth', 'peak', 'errors'],
        [[`${int(soak.rps)}/s, p99 ${ms(soak.p99Ms)} ms`, `${mib(mem.rssEarly)} MiB`, `${mib(mem.rssEnd)} MiB`, x(mem.rssEnd / mem.rssEarly), `${mib(mem.rssPeak)} MiB`, String(soak.errors)]],
      ),
    );
  }
  const httpSuites = ['http-64', 'http-256', 'http-pipelined', 'http-workers-256'].filter((suite) => s.some((c) => c.suite === suite));
  push('## HTTP', '');
  if (httpSuites.length === 0) {
    push('Not run in this build (wrk or nginx missing).', '');
  } else {
    push(
      `wrk (one thread, keep-alive) for ${run.timing.httpSeconds} s per run, ${run.timing.sideRounds} rounds, after one warm-up run of ` +
        `${run.timing.httpWarmupSeconds ?? 1} s at 256 connections per target, against ${HTTP_BACKENDS} backends ` +
        `(one nginx process, 1 worker, serving a small page on ${HTTP_BACKENDS} ports). **limit**: one backend directly. ` +
        `**${NET_FLOOR}**: not a proxy to use but a measure, \`scripts/bench/net-floor-proxy.ts\`: node:net sockets and no HTTP library, ` +
        `forwarding these GET requests and Content-Length answers without validating anything; what a Node proxy costs before any HTTP ` +
        `parsing, framing or checking. Pipelined: ` +
        `${HTTP_PIPELINE_DEPTH} requests per write on ${HTTP_PIPELINE_CONNECTIONS} connections.` +
        (env.brokerHttp ? '' : ' **This build of policy-broker has no HTTP front end (`--http-port`) yet: its HTTP cases did not run.**'),
      '',
    );
    for (const suite of httpSuites) {
      const base = suite === 'http-workers-256' ? 'nginx (2 workers)' : 'nginx';
      const ours = suite === 'http-workers-256' ? 'policy-broker --workers 2' : 'policy-broker';
      push(`**${suite.replace('http-', '')}${/^\d+$/.test(suite.replace('http-', '')) ? ' connections' : ''}**`, '', comparison(run, s, suite, base, ours));
    }
  }
  push(...coldStartSection(run, s));
  push(...registrySection(run, s));
  if (existsSync(ASSIGNMENT_FILE)) push(readFileSync(ASSIGNMENT_FILE, 'utf8').trimEnd(), '');
  push(...burstsSection(existsSync(BURSTS_FILE) ? (JSON.parse(readFileSync(BURSTS_FILE, 'utf8')) as { startedAt: string; records: RunRecord[] }) : undefined));
  push(...lossesSection(run, s), ...optimisationsSection(), '## Commands', '', commands(run), '');
  return out.join('\n');
}

/** Cold start (cold-start.ts), when it ran: the first ab run against a fresh process and the one right after, for ours and nginx. */
function coldStartSection(run: BenchRun, s: CaseSummary[]): string[] {
  const rows = ['nginx', 'policy-broker'].flatMap((name) => {
    const first = find(s, COLD_SUITES.cold, name);
    const second = find(s, COLD_SUITES.warm, name);
    if (first === undefined || second === undefined) return [];
    const started = run.records.filter((r) => r.suite === COLD_SUITES.cold && r.case === name).map((r) => r.note ?? '');
    return [[name, int(first.rps), `${ms(first.p50Ms)} / ${ms(first.p99Ms)}`, int(second.rps), `${ms(second.p50Ms)} / ${ms(second.p99Ms)}`, x(second.rps / first.rps), started.join('; ')]];
  });
  if (rows.length === 0) return [];
  return [
    '### Cold start',
    '',
    `The assignment's \`ab -n ${COLD_REQUESTS} -c ${COLD_CONCURRENCY} -k\` against a proxy started just before (its port accepting), then the same ` +
      `command once more right after; each round starts both proxies afresh (medians of ${roundsOf(s, COLD_SUITES.cold)} rounds). The first run pays ` +
      'for what a fresh process has not done yet: V8 compiles the request path as it first runs it, and the upstream pool dials its backends.',
    '',
    table(['proxy', 'first run /s', 'p50 / p99 ms', 'second run /s', 'p50 / p99 ms', 'second vs first', 'started in'], rows),
  ];
}

function roundsOf(s: CaseSummary[], suite: string): number {
  return s.find((c) => c.suite === suite)?.runs ?? 0;
}

/** The shared registry (docs/scale-out.md), when the registry suite ran: the goal above, the rest for information. */
function registrySection(run: BenchRun, s: CaseSummary[]): string[] {
  const oneBroker = s.filter((c) => c.suite === REGISTRY_SUITES.oneBroker);
  const twoBrokers = s.filter((c) => c.suite === REGISTRY_SUITES.twoBrokers);
  const churn = find(s, REGISTRY_SUITES.churn, REGISTRY_CASES.churn);
  const failover = run.records.filter((r) => r.suite === REGISTRY_SUITES.failover);
  if (oneBroker.length === 0 && twoBrokers.length === 0 && churn === undefined && failover.length === 0) return [];
  const ratioRow = (suite: string, c: CaseSummary, base: string): string[] => [
    c.case,
    int(c.rps),
    range(c),
    c.case === base ? '1.00×' : x(pairedRatio(run.records, suite, c.case, base)?.median),
  ];
  const out = [
    '## Shared registry',
    '',
    `\`policy-client --count N\` runs (${run.timing.rounds} rounds, interleaved; 64 in flight) through brokers with two servers each, ` +
      `against a redis-server the suite starts on loopback (docs/scale-out.md). The packet path reads only the broker's local table ` +
      `with either registry, so the first ratio is expected near 1. Two brokers, each with its own client process, share this ` +
      `machine's ${run.env.machine.cores} cores with those clients and four servers: the second broker adds what cores are left, ` +
      `not a whole broker's worth (on separate hosts it would).`,
    '',
  ];
  if (oneBroker.length > 0) out.push(table(['one broker', 'median /s', 'min–max /s', 'vs in memory'], oneBroker.map((c) => ratioRow(REGISTRY_SUITES.oneBroker, c, REGISTRY_CASES.memory))));
  if (twoBrokers.length > 0) out.push(table(['brokers sharing a registry', 'median /s (all clients)', 'min–max /s', 'vs one broker'], twoBrokers.map((c) => ratioRow(REGISTRY_SUITES.twoBrokers, c, REGISTRY_CASES.one))));
  if (churn !== undefined) {
    const n = run.records.find((r) => r.suite === REGISTRY_SUITES.churn)?.answered;
    out.push(
      `Registration churn, for information: ${int(n)} registrations, 32 in flight, spread over three brokers' registry stores in one ` +
        `process (a broker's table follows its store synchronously), so it measures the registry's path, not the brokers' sockets.`,
      '',
      table(['registrations absorbed /s', 'registration → routable from every broker, p50', 'p99'], [[int(churn.rps), `${ms(churn.p50Ms)} ms`, `${ms(churn.p99Ms)} ms`]]),
    );
  }
  if (failover.length > 0) out.push(...failoverRows(failover));
  return out;
}

/** The failover case: the load through a Redis primary's kill beside the same load without it. */
function failoverRows(records: RunRecord[]): string[] {
  const steady = records.find((r) => r.case === REGISTRY_CASES.steady);
  return [
    `Failover, for information: one broker on Redis Sentinel (a primary, a replica, three Sentinels, down-after 1 s) with two ` +
      `servers, one \`policy-client --duration\` load (16 in flight) each; in the second the Redis primary is SIGKILLed during the ` +
      `load. At the kill (or the same moment without it) a new server registers: its wait is the time to the broker's answer, ` +
      `a server pool process's start included. Routing reads the local table, so packets should not wait for Redis; a registration may.`,
    '',
    table(
      ['case', 'packets /s', 'vs no kill', 'errors (lost included)', 'p99 / max', 'registration waited', 'kill → promoted'],
      records.map((r) => [
        r.case,
        int(r.rps),
        steady === undefined || steady.rps === 0 ? '–' : x(r.rps / steady.rps),
        int(r.errors),
        `${ms(r.p99Ms)} / ${ms(r.maxMs)} ms`,
        r.registrationMs === undefined ? 'failed (see the run\'s notes)' : `${int(r.registrationMs)} ms`,
        r.failoverMs === undefined ? '–' : `${int(r.failoverMs)} ms`,
      ]),
    ),
  ];
}

/** The same ratio for this build on Node 24 LTS, when the run had it beside the machine's Node: a sentence, or ''. */
function onNewerNode(r: readonly RunRecord[], s: CaseSummary[], peer: string, goal: number): string {
  const newer = s.find((c) => c.suite === 'packets' && c.case.startsWith('policy-broker (node'));
  const ratio = newer === undefined ? undefined : pairedRatio(r, 'packets', newer.case, peer);
  if (newer === undefined || ratio === undefined) return '';
  return ` The same build on ${newer.case.slice('policy-broker ('.length, -1)}, in the same run: ${x(ratio.median)} (broker ${us(newer.cpuUs.broker)} µs per packet)${ratio.median >= goal ? ', which meets the goal' : ''}.`;
}

/** Plain words on every goal missed and every case where a peer beats us, with the figures that explain it. */
function lossesSection(run: BenchRun, s: CaseSummary[]): string[] {
  const out: string[] = [];
  const r = run.records;
  const broker = find(s, 'packets', 'policy-broker');
  const limit = find(s, 'packets', 'limit');
  const nats = find(s, 'packets', 'nats');
  const vsNats = pairedRatio(r, 'packets', 'policy-broker', 'nats');
  if (broker !== undefined && vsNats !== undefined && vsNats.median < GOALS.natsRatio) {
    out.push(
      `- **Against NATS (${x(vsNats.median)}, goal ${GOALS.natsRatio}×).** Both runs are bound by CPU on two cores. Per round trip, ours costs ` +
        `${us(broker.cpuUs.broker)} µs in the broker, ${us(broker.cpuUs.servers)} µs in the server pool and ${us(broker.cpuUs.client)} µs in the ` +
        `load generator; NATS costs ${us(nats?.cpuUs['nats-server'])} µs in nats-server, ${us(nats?.cpuUs.servers)} µs in the responders and ` +
        `${us(nats?.cpuUs.client)} µs in its client, whose process is the one that saturates (${nats?.cpu.client?.toFixed(2)} cores). ` +
        `Our broker's share is mostly system calls and their wake-ups on loopback TCP (a read and a write per batch on each side), then JSON.parse ` +
        `and JSON.stringify once per hop.` +
        onNewerNode(r, s, 'nats', GOALS.natsRatio),
    );
  }
  const vsLimit = pairedRatio(r, 'packets', 'policy-broker', 'limit');
  if (broker !== undefined && limit !== undefined && vsLimit !== undefined && vsLimit.median < GOALS.limitRatio) {
    out.push(
      `- **Against the limit (${x(vsLimit.median)}, goal ${GOALS.limitRatio}×).** The limit runs two processes on two cores, the broker case ` +
        `three: the servers cost ${us(limit.cpuUs.servers)} µs per packet there and ${us(broker.cpuUs.servers)} µs behind the broker (smaller ` +
        `batches), and the broker adds ${us(broker.cpuUs.broker)} µs. Per-round ratios ranged ${x(vsLimit.min)}–${x(vsLimit.max)}. ` +
        `The load is CPU-bound on both sides, so the ratio follows the CPU all processes spend per packet: ${us(limit.cpuUs.servers + (limit.cpuUs.client ?? 0))} µs ` +
        `for the limit, ${us(broker.cpuUs.broker + broker.cpuUs.servers + (broker.cpuUs.client ?? 0))} µs through the broker; ${GOALS.limitRatio}× would take ` +
        `the broker to about ${us(Math.max(0, (limit.cpuUs.servers + (limit.cpuUs.client ?? 0)) / GOALS.limitRatio - broker.cpuUs.servers - (broker.cpuUs.client ?? 0)))} µs ` +
        `per packet.` +
        onNewerNode(r, s, 'limit', GOALS.limitRatio),
    );
  }
  if (broker?.p99Ms !== undefined && broker.p99Ms > GOALS.p99Ms) {
    out.push(
      `- **p99 (${ms(broker.p99Ms)} ms, goal ${GOALS.p99Ms} ms).** Three busy processes (load generator, broker, servers) share two cores, ` +
        `so a process that is runnable often waits for a time slice; the limit case, with two processes and no broker, has a p99 of ` +
        `${ms(limit?.p99Ms)} ms` +
        (limit?.p99Ms !== undefined && limit.p99Ms > GOALS.p99Ms ? ', so the goal is below what this machine shows without us' : '') +
        `. Each hop adds a process that must be scheduled: the packet is read by the broker, written to a server, answered, read ` +
        `again and written back, four wake-ups where the limit has two. The p50 is ${ms(broker.p50Ms)} ms. The range over ` +
        `rounds (${ms(broker.p99Min)}–${ms(broker.p99Max)} ms) follows how busy the machine was. The broker's GC pauses had been most of the tail: its ` +
        `in-flight jobs were held in a Map, whose replaced tables, chained old to new, kept every job alive through each minor GC (2.6 MB ` +
        `survived each one, pauses of 4–11 ms); held in a dictionary (support/id-table.ts), 0.16 MB survives and pauses take 1–3 ms.`,
    );
  }
  const three = find(s, 'servers', '3 servers');
  const thousand = find(s, 'servers', '1000 servers');
  const rr3 = find(s, 'selection', 'round-robin, 3 servers');
  const rr1000 = find(s, 'selection', 'round-robin, 1000 servers');
  const vsNatsMany = pairedRatio(r, 'servers', '1000 servers', NATS_MANY_RESPONDERS);
  if (three !== undefined && thousand !== undefined && (vsNatsMany === undefined || vsNatsMany.median < GOALS.servers1000NatsRatio)) {
    out.push(
      `- **1,000 servers (${x(vsNatsMany?.median)} of NATS with 1,000 responders, goal ${GOALS.servers1000NatsRatio}×; ` +
        `${x(pairedRatio(r, 'servers', '1000 servers', '3 servers')?.median)} of the 3-server throughput).** Selection is not the cause: a ` +
        `round-robin pick costs ${rr3 ? (1e9 / rr3.rps).toFixed(1) : '–'} ns with 3 ` +
        `servers and ${rr1000 ? (1e9 / rr1000.rps).toFixed(1) : '–'} ns with 1,000. The cause is batching: with ${PACKET_SHAPE.inflight} packets in ` +
        `flight spread over 1,000 connections, each packet is a write of its own in the broker and a read and a write of its own in the pool, ` +
        `where with 3 servers one write carries many. CPU per packet: broker ${us(three.cpuUs.broker)} → ${us(thousand.cpuUs.broker)} µs, ` +
        `servers ${us(three.cpuUs.servers)} → ${us(thousand.cpuUs.servers)} µs. Round-robin per packet is the contract; a fleet of 1,000 ` +
        `servers in one process is the benchmark's shape, not a deployment's.`,
    );
  }
  const idle = idleOf(r, 'policy-broker');
  const idleFloor = idleOf(r, IDLE_FLOOR);
  if (idle !== undefined && idleFloor !== undefined && idle.bytesPerConnection > GOALS.idleVsFloor * idleFloor.bytesPerConnection) {
    const before = (r.find((x) => x.suite === 'memory-idle' && x.case === 'policy-broker')?.memory as { rssBefore: number }).rssBefore;
    out.push(
      `- **Idle connections (${int(idle.bytesPerConnection)} B each, a bare node:net server ${int(idleFloor.bytesPerConnection)} B: ` +
        `${x(idle.bytesPerConnection / idleFloor.bytesPerConnection)}, goal ${GOALS.idleVsFloor}×).** The broker starts at ` +
        `${mib(before)} MiB before any client connects. Beyond Node's own socket (the net.Socket with its stream state and TCP handle), ` +
        `each connection holds the broker's per-connection state (its frame reader, its in-flight count and timers); V8's young ` +
        `generation also grows during the burst of connects and is given back only when V8 next reduces its heap.`,
    );
  }
  for (const size of PAYLOAD_SIZES) {
    const ratio = pairedRatio(r, `payload-${size}`, 'policy-broker', 'nats');
    if (ratio !== undefined && ratio.median < 1) {
      const c = find(s, `payload-${size}`, 'policy-broker');
      out.push(
        `- **${size.toLocaleString('en-US')}-byte payloads: NATS is faster (ours ${x(ratio.median)}).** NATS carries the payload as opaque ` +
          `bytes. Ours is JSON: each hop turns the line into a string and parses it (JSON.parse, which validation needs): ` +
          `${us(c?.cpuUs.broker)} µs of broker CPU per packet, ${us(c?.cpuUs.servers)} µs in the servers. The payload is neither encoded ` +
          `again nor copied into a string for the socket: a long payload of an all-ASCII frame is written to its server as the frame's own ` +
          `bytes (protocol/raw-literal.ts, encode.ts forwardLine). What is left is the decode and the parse on each hop.`,
      );
    }
  }
  const ours256 = find(s, 'http-256', 'policy-broker');
  const minimal256 = find(s, 'http-256', 'minimal-node-proxy');
  const nginx256 = find(s, 'http-256', 'nginx');
  const vsMinimal = pairedRatio(r, 'http-256', 'policy-broker', 'minimal-node-proxy');
  if (ours256 !== undefined && vsMinimal !== undefined && vsMinimal.median < GOALS.httpMinimalRatio) {
    out.push(
      `- **HTTP (${x(vsMinimal.median)} of the minimal Node proxy at 256 connections, per-round range ${x(vsMinimal.min)}–${x(vsMinimal.max)}).** ` +
        `Ours spends ${us(ours256.cpuUs.proxy)} µs of CPU per request, the minimal proxy ${us(minimal256?.cpuUs.proxy)} µs and nginx ` +
        `${us(nginx256?.cpuUs.proxy)} µs. Both make the same system calls per request (checked with strace -c) through the same ` +
        `node:http and undici. The minimal proxy pays for undici's promise API and a header object each way; ours calls undici's ` +
        `dispatch with flat header arrays, and pays for what the minimal proxy leaves out: routing by policy, header rewriting with ` +
        `X-Forwarded-* and request ids, statistics, health bookkeeping, limits. Side by side with a bare node:http + undici dispatch ` +
        `proxy, CPU profiles show that work spread over many small items (GC, header validation, the exchange's callbacks), none ` +
        `worth more than a few percent alone. What a request's CPU is made of, by who runs it (system calls, undici, node:http, ` +
        `streams, the broker's own modules): [benchmarks-http-profile.md](benchmarks-http-profile.md), from ` +
        `\`node dist/scripts/bench/http-profile.js\`.`,
    );
  }
  const floor256 = find(s, 'http-256', NET_FLOOR);
  const httpProxy256 = find(s, 'http-256', 'node-http-proxy');
  const vsNginx = pairedRatio(r, 'http-256', 'policy-broker', 'nginx');
  if (ours256 !== undefined && nginx256 !== undefined && vsNginx !== undefined && vsNginx.median < 1) {
    out.push(
      `- **HTTP against nginx (${x(vsNginx.median)} at 256 connections, for information).** Both proxies saturate: ours uses ` +
        `${ours256.cpu.proxy?.toFixed(2)} cores at ${us(ours256.cpuUs.proxy)} µs of CPU per request, nginx ${nginx256.cpu.proxy?.toFixed(2)} cores at ` +
        `${us(nginx256.cpuUs.proxy)} µs (the ${NET_FLOOR}: ${us(floor256?.cpuUs.proxy)} µs). The ratio follows the CPU per request, and ` +
        `that is mostly node:http and undici (see node-http-proxy below).`,
    );
  }
  if (ours256?.p99Ms !== undefined && nginx256?.p99Ms !== undefined && ours256.p99Ms > GOALS.httpP99VsNginx * nginx256.p99Ms) {
    out.push(
      `- **HTTP p99 at 256 connections (${ms(ours256.p99Ms)} ms, ${x(ours256.p99Ms / nginx256.p99Ms)} nginx's ${ms(nginx256.p99Ms)} ms, goal ` +
        `${GOALS.httpP99VsNginx}×).** With 256 requests always outstanding, a proxy that saturates its core holds each request for about ` +
        `256 × its CPU per request, so the p50 (${ms(ours256.p50Ms)} ms against ${ms(nginx256.p50Ms)} ms) and the tail scale with the CPU per ` +
        `request above: the ${NET_FLOOR}, a Node process on the same sockets, had a p99 of ${ms(floor256?.p99Ms)} ms, and ` +
        `node-http-proxy, at ${us(httpProxy256?.cpuUs.proxy)} µs per request, ${ms(httpProxy256?.p99Ms)} ms. What waits in ours is bounded ` +
        `(\`--upstream-connections\` per backend, pipelined requests one at a time per connection, \`--http-max-inflight\`).` +
        (ours256.runs > 1 ? ` The range over rounds was ${ms(ours256.p99Min)}–${ms(ours256.p99Max)} ms.` : '') +
        (run.mode === 'quick' ? ` In quick mode each wrk run lasts ${run.timing.httpSeconds} s, so its 256 connects weigh on the p99.` : ''),
    );
  }
  const vsHttpProxy = pairedRatio(r, 'http-256', 'policy-broker', 'node-http-proxy');
  if (ours256 !== undefined && httpProxy256 !== undefined && vsHttpProxy !== undefined && vsHttpProxy.median < GOALS.httpNodeProxyRatio) {
    const needed = (httpProxy256.cpuUs.proxy ?? NaN) / GOALS.httpNodeProxyRatio;
    const vsFloor = pairedRatio(r, 'http-256', NET_FLOOR, 'node-http-proxy');
    const floorVsOurs = pairedRatio(r, 'http-256', 'policy-broker', NET_FLOOR);
    out.push(
      `- **node-http-proxy (${x(vsHttpProxy.median)}, goal ${GOALS.httpNodeProxyRatio}×).** Each proxy is one process using a whole core, so ` +
        `throughput follows CPU per request: node-http-proxy spends ${us(httpProxy256.cpuUs.proxy)} µs, so ${GOALS.httpNodeProxyRatio}× would ` +
        `need ours at about ${us(needed)} µs, below the ${us(minimal256?.cpuUs.proxy)} µs of the minimal proxy, which is nothing but ` +
        `node:http and undici. No proxy built on node:http and undici gets there on this machine. The ${NET_FLOOR} does ` +
        `(${us(floor256?.cpuUs.proxy)} µs, ${x(vsFloor?.median)} of node-http-proxy's throughput, ours ${x(floorVsOurs?.median)} of it), ` +
        `but only by validating nothing: getting there means replacing node:http's parser and undici with a hand-written HTTP/1.1 ` +
        `implementation (request smuggling rules, chunked bodies, timeouts, TLS), which this project has not taken on.`,
    );
  }
  const workers = pairedRatio(r, 'http-workers-256', 'policy-broker --workers 2', 'nginx (2 workers)');
  const ours2 = find(s, 'http-workers-256', 'policy-broker --workers 2');
  const nginx2 = find(s, 'http-workers-256', 'nginx (2 workers)');
  if (workers !== undefined && ours2 !== undefined && nginx2 !== undefined && workers.median < GOALS.httpWorkersNginxRatio) {
    out.push(
      `- **--workers 2 (${x(workers.median)} of nginx with 2 workers, goal ${GOALS.httpWorkersNginxRatio}×).** Two workers on two cores ` +
        `share them with wrk and the backends, so a second worker adds less than a core: ours used ${ours2.cpu.proxy?.toFixed(2)} cores at ` +
        `${us(ours2.cpuUs.proxy)} µs per request, nginx ${nginx2.cpu.proxy?.toFixed(2)} cores at ${us(nginx2.cpuUs.proxy)} µs. The kernel ` +
        `hands each new connection to whichever worker accepts first, so 256 keep-alive connections may split unevenly (one run split ` +
        `74/182), and the busier worker sets the pace (docs/http.md).`,
    );
  }
  const httpRun = s.some((c) => c.suite.startsWith('http-') && c.case === 'policy-broker');
  if (!httpRun) out.push('- **HTTP**: policy-broker\'s HTTP cases did not run in this build (no `--http-port`), so the HTTP goals are not measured.');
  if (out.length === 0) return [];
  return ['## Where we lose, and why', '', ...out, ''];
}

function optimisationsSection(): string[] {
  const steps = readOptimisations();
  if (steps.length === 0) return [];
  const rows = steps.map((st) => [
    st.label,
    st.note,
    int(st.before.rps),
    int(st.after.rps),
    `${pct(st.gain.median - 1)} (${pct(st.gain.min - 1)} to ${pct(st.gain.max - 1)})`,
    `${ms(st.before.p99Ms)} → ${ms(st.after.p99Ms)}`,
    `${us(st.before.brokerUs)} → ${us(st.after.brokerUs)}`,
    `${us(st.before.serversUs)} → ${us(st.after.serversUs)}`,
    st.before.idleBytesPerConnection === undefined ? '' : `${int(st.before.idleBytesPerConnection)} → ${int(st.after.idleBytesPerConnection)}`,
    `${st.suite ?? 'packets'}, ${st.mode}, ${st.rounds} rounds`,
  ]);
  return [
    '## What made it fast',
    '',
    'Each step was measured by running the build before it and the build after it side by side in one run of a suite ' +
      '(`npm run bench -- --quick --only packets --variant before=DIST --variant after=DIST --record LABEL`, each DIST a copy of dist/ ' +
      'differing only by the step; for an HTTP step `--only http --variant before=DIST --record LABEL --record-suite http-pipelined`, ' +
      'this build being the after; with `--only packets,memory` the idle-memory suite runs each build too and the step records the ' +
      'bytes of RSS per idle connection), alternating rounds; the gain is the median of the per-round ratios. Throughput swings with ' +
      'whatever else the shared machine runs in a round; the CPU time each process spends per answer is the steadier figure, and ' +
      'the one each step was made to lower. In an HTTP row the broker is the proxy and the servers are the nginx backends. ' +
      'The rows come from [benchmarks-optimisations.json](benchmarks-optimisations.json). Tried and dropped: writing the two ' +
      'packet-path lines with template strings instead of JSON.stringify of an object (faster alone, but the rope strings it ' +
      'builds cost as much again when the batch is flattened for the socket write; no gain in the packets suite).',
    '',
    table(['step', 'what changed', 'before /s', 'after /s', 'gain (range)', 'p99 ms', 'broker CPU µs/answer', 'servers CPU µs/answer', 'idle B/connection', 'run'], rows),
  ];
}

/** The README's short table: the main comparisons and the goals. */
export function renderReadmeBlock(run: BenchRun): string {
  const s = summarize(run.records);
  const rows = goals(run, s)
    .filter((g) => g.met !== undefined && g.met !== null)
    .map((g) => [g.what, g.measured, g.goal, g.noisy === true ? 'noisy' : g.met ? 'met' : 'missed']);
  const broker = find(s, 'packets', 'policy-broker');
  const limit = find(s, 'packets', 'limit');
  const nats = find(s, 'packets', 'nats');
  return [
    README_START,
    `Measured by \`npm run bench\` (${run.mode} mode) on ${run.env.machine.cpuModel}, ${run.env.machine.cores} cores, Node ${run.env.machine.node}; ` +
      `64 packets in flight over 4 connections, 3 servers: policy-broker ${int(broker?.rps)}/s (p99 ${ms(broker?.p99Ms)} ms), ` +
      `one server directly ${int(limit?.rps)}/s, NATS ${int(nats?.rps)}/s. Details: [docs/benchmarks.md](docs/benchmarks.md).`,
    '',
    table(['', 'measured', 'goal', ''], rows).trimEnd(),
    README_END,
  ].join('\n');
}

export function writeReport(run: BenchRun): void {
  writeFileSync(REPORT_FILE, renderReport(run));
  if (!existsSync(README)) return;
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start === -1 || end === -1) return;
  writeFileSync(README, readme.slice(0, start) + renderReadmeBlock(run) + readme.slice(end + README_END.length));
}
