#!/usr/bin/env node
/**
 * npm run bench [-- --quick]: policy-broker against the limit and its peers, side by side on
 * this machine; writes docs/benchmarks.md, docs/benchmarks.json and the README's results block.
 * Wiring only: the cases live in packet-cases.ts and http-cases.ts, the report in report.ts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Command, Option } from 'commander';
import { TIMING, type Mode } from './config.js';
import { describeEnvironment, ensureAptPeers } from './environment.js';
import { httpSuite } from './http-cases.js';
import {
  connectionSuite,
  idleMemorySuite,
  mainSuite,
  payloadSuite,
  runtimeVariant,
  serverCountSuite,
  soakSuite,
  type BrokerVariant,
  type PacketContext,
} from './packet-cases.js';
import { burstSuite, runtimes, type Runtime } from './bursts.js';
import { buildRef, compareRatios, formatCompare } from './compare.js';
import { writeBurstReport } from './bursts-report.js';
import { registrySuite } from './registry.js';
import { selectionSuite } from './selection.js';
import { renderWebsocketReport, websocketSuite } from './websocket.js';
import { writeFileSync } from 'node:fs';
import { REPO_ROOT } from '../lib/programs.js';
import { waitForQuiet } from './processes.js';
import { appendOptimisation, readRun, writeReport, writeRun, type BenchRun } from './report.js';
import type { RunRecord } from './results.js';

const SUITES = ['packets', 'payloads', 'servers', 'connections', 'memory', 'soak', 'http', 'bursts', 'registry', 'websocket'] as const;
type Suite = (typeof SUITES)[number];
/** WebSockets of the websocket suite's throughput case. */
const WEBSOCKET_CONNECTIONS = 64;
/** Open files the harness and its children may need: the idle connections and some room. */
const FD_LIMIT = 65536;

interface Options {
  quick: boolean;
  only?: Suite[];
  variant: BrokerVariant[];
  record?: string;
  recordSuite: string;
  note?: string;
  install: boolean;
  reportOnly: boolean;
  rounds?: number;
  compare?: string;
}

const program = new Command('bench')
  .description('Benchmarks policy-broker against the limit, NATS, nginx, HAProxy and Node proxies; writes docs/benchmarks.md')
  .option('--quick', 'short runs (under 2 minutes), for development; the soak is a short version', false)
  .addOption(
    new Option('--only <suites>', `run only these suites (comma-separated: ${SUITES.join(', ')}); the docs are not rewritten`).argParser((v) => {
      const list = v.split(',').map((s) => s.trim());
      for (const s of list) if (!(SUITES as readonly string[]).includes(s)) throw new Error(`unknown suite "${s}"`);
      return list as Suite[];
    }),
  )
  .option(
    '--variant <name=dir>',
    'another build (a dist/ directory: its broker and server pool) to run side by side in the packets suite, and with --only in the payloads, idle-memory and HTTP suites; repeatable',
    (v: string, list: BrokerVariant[]) => {
      const at = v.indexOf('=');
      if (at < 1) throw new Error(`--variant wants NAME=DIR, got "${v}"`);
      return [...list, { name: v.slice(0, at), dist: path.resolve(v.slice(at + 1)) }];
    },
    [] as BrokerVariant[],
  )
  .option(
    '--record <label>',
    'record an optimisation step in docs/benchmarks-optimisations.json: variant "after" vs variant "before" (or this build vs "before")',
  )
  .option('--note <text>', 'with --record: what the step changed')
  .option('--record-suite <suite>', 'with --record: the suite whose cases are compared (packets, payload-65536 and the other sizes, http-64, http-256, http-pipelined)', 'packets')
  .option('--rounds <n>', 'rounds of the main comparison (default: 3 quick, 5 full)', (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--rounds wants a whole number of at least 1, got "${v}"`);
    return n;
  })
  .option('--compare <ref>', 'the regression gate: build git ref REF in a temporary worktree, run it side by side with this build (packets and HTTP suites), exit 1 on a loss beyond 5 % in a headline ratio not measured on a busy machine')
  .option('--no-install', 'do not apt-get install missing peers')
  .option('--report-only', 'only rebuild docs/benchmarks.md and the README block from docs/benchmarks.json', false);

program.action(async (options: Options) => {
  if (options.reportOnly) {
    writeReport(readRun());
    return;
  }
  if (raiseFileLimit()) return;
  const mode: Mode = options.quick ? 'quick' : 'full';
  const timing = { ...TIMING[mode], rounds: options.rounds ?? TIMING[mode].rounds };
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const missing = ensureAptPeers(options.install, log);
  const env = describeEnvironment(missing);
  const built = options.compare === undefined ? undefined : buildRef(options.compare, log);
  process.on('exit', () => built?.remove());
  const variants = built === undefined ? options.variant : [...options.variant, { name: built.name, dist: built.dist }];
  const suites = new Set<Suite>(options.only ?? (built !== undefined ? ['packets', 'http'] : variants.length > 0 ? ['packets'] : SUITES));
  // A plain run (no other build) runs this build on Node 24 LTS too, in the main packet and HTTP comparisons.
  // Looked for once (scripts/node24.sh may download Node 24), by the first suite that needs them.
  let found: Runtime[] | undefined;
  const nodeRuntimes = (): Runtime[] => (found ??= runtimes(log));
  const otherRuntimes = variants.length > 0 || (!suites.has('packets') && !suites.has('http')) ? [] : nodeRuntimes().filter((r) => r.node !== process.execPath).map(runtimeVariant);
  const ctx: PacketContext = { timing, variants, runtimes: otherRuntimes, natsAvailable: !env.missing.has('nats-server'), log };
  const startedAt = new Date();
  log(`bench (${mode}) on ${env.machine.cpuModel} x${env.machine.cores}, node ${env.machine.node}, load ${env.machine.loadAverage.join(' ')}`);

  const records: RunRecord[] = [];
  const runSuite = async (suite: Suite, fn: () => Promise<RunRecord[]>): Promise<void> => {
    if (!suites.has(suite)) return;
    log(`${suite}:`);
    const suiteStart = Date.now();
    records.push(...(await fn()));
    log(`  (${suite}: ${Math.round((Date.now() - suiteStart) / 1000)} s)`);
  };
  await runSuite('packets', () => mainSuite(ctx));
  await runSuite('payloads', () => payloadSuite(ctx));
  await runSuite('servers', async () => [...selectionSuite(timing.sideRounds), ...(await serverCountSuite(ctx))]);
  await runSuite('connections', () => connectionSuite(ctx));
  await runSuite('memory', () => idleMemorySuite(ctx));
  await runSuite('http', () => httpSuite({ timing, log, missing: env.missing, brokerHttp: env.brokerHttp, brokerWorkers: env.brokerWorkers, variants, runtimes: otherRuntimes }));
  await runSuite('bursts', async () => {
    for (const tool of ['wrk', 'nginx']) {
      if (env.missing.has(tool)) {
        log(`  skipped: ${tool} is missing`);
        return [];
      }
    }
    const burstRecords = await burstSuite({ rounds: timing.sideRounds, log, runtimes: nodeRuntimes() });
    const machine = `${env.machine.cpuModel} x${env.machine.cores}`;
    log(`  written: ${writeBurstReport(burstRecords, { startedAt: startedAt.toISOString(), commit: env.commit, machine, loadBefore: env.machine.loadAverage })}`);
    return burstRecords;
  });
  await runSuite('registry', async () => {
    if (!env.missing.has('redis-server')) return registrySuite({ mode, rounds: timing.rounds, log, sentinel: !env.missing.has('redis-sentinel') });
    log('  skipped: redis-server is missing (apt-get install redis-server)');
    return [];
  });
  await runSuite('websocket', async () => {
    const busy = await waitForQuiet(0.5, 15000);
    const wsRecords = await websocketSuite({ idle: timing.idleConnections, connections: WEBSOCKET_CONNECTIONS, durationMs: timing.durationMs, rounds: timing.rounds, log });
    const file = path.join(REPO_ROOT, 'docs/benchmarks-websocket.md');
    writeFileSync(file, renderWebsocketReport(wsRecords, { startedAt: startedAt.toISOString(), commit: env.commit, node: env.machine.node, loadBefore: env.machine.loadAverage, busy }));
    log(`  written: ${file}`);
    return wsRecords;
  });
  // The soak last: in full mode it is most of the time.
  await runSuite('soak', () => soakSuite(ctx, mode === 'full' ? `${timing.soakMs / 60000} minutes` : `short version: ${timing.soakMs / 1000} s`));

  const run: BenchRun = {
    mode,
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    argv: process.argv.slice(2),
    env: { ...env, missing: [...env.missing] },
    timing,
    records,
  };
  if (options.record !== undefined) appendOptimisation(run, options.record, options.note ?? '', options.recordSuite);
  if (built !== undefined) {
    const lines = compareRatios(records, built.name);
    log(formatCompare(lines, built.name));
    if (lines.some((l) => l.verdict === 'loss')) process.exitCode = 1;
  }
  const complete = options.only === undefined && variants.length === 0;
  const where = writeRun(run, complete);
  if (complete) writeReport(run);
  log(`done in ${run.durationS} s; raw runs in ${where}`);
  process.exit(process.exitCode ?? 0);
});

/**
 * Re-runs this process under a shell that raised the open-file limit when it is too low for
 * the idle connections (children inherit it). Returns true when the re-run happened.
 */
function raiseFileLimit(): boolean {
  if (process.env.POLICY_BENCH_FD_RAISED === '1') return false;
  const current = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (current >= FD_LIMIT) return false;
  const result = spawnSync(
    'sh',
    ['-c', `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, POLICY_BENCH_FD_RAISED: '1' } },
  );
  process.exitCode = result.status ?? 1;
  return true;
}

// Ctrl-C or a kill: exit through process.exit, so that every child started is killed on the way out.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

await program.parseAsync();
