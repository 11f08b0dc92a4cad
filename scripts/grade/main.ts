#!/usr/bin/env -S node --min-semi-space-size=16
/**
 * policy-grade: grade a student's broker, server or HTTP proxy from outside, as an instructor
 * would. Wiring only: options in, grade() or runBatch() out, a table and exit code.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { ServersFileError } from '../../broker/support/servers-file.js';
import { envOption, EXIT_USAGE, hostPort, integer, parseOrExit } from '../../broker/support/cli.js';
import { PACKAGE_VERSION } from '../../broker/support/version.js';
import { freePort } from '../bench/processes.js';
import { batchSummary, loadBatch, ManifestError, runBatch, writeBatch } from './batch.js';
import { CheckSelectionError, parseCheckList, type CheckResult, type Grade } from './check.js';
import { checksOf, grade, gradeOnFreePort, TargetError, type GradeRequest } from './grade.js';
import { EXIT, GRADE_DEFAULTS, KINDS, type GradeSettings, type Kind } from './options.js';
import { formatBatch, formatGrade } from './report.js';

const NAME = 'policy-grade';
const PREFIX = 'POLICY_GRADE';

interface CliOptions {
  target?: { host: string; port: number };
  start?: string;
  cwd?: string;
  listen?: { host: string; port: number };
  servers?: string;
  batch?: string;
  out: string;
  json?: boolean;
  only: string[];
  skip: string[];
  checkTimeout: number;
  answerTimeout: number;
  startTimeout: number;
  count: number;
  failoverCount: number;
  pipeline: number;
  clients: number;
  perClient: number;
}

const d = GRADE_DEFAULTS;

/** The options every subcommand has (fresh Option objects each time: commander owns them). */
function commonOptions(): Option[] {
  return [
    envOption(PREFIX, '--start <command>', 'shell command that starts the submission; {port}, {host}, {servers}, {broker} are filled in'),
    envOption(PREFIX, '--cwd <dir>', 'working directory of --start'),
    envOption(PREFIX, '--batch <dir|manifest.json>', "grade a class one after another: a folder with one sub-folder per student (each run with --start), or a manifest (docs/grading.md)"),
    envOption(PREFIX, '--out <dir>', 'with --batch: folder for grades.csv and grades.json').default('.'),
    envOption(PREFIX, '--json', 'also print the grade as one JSON object on the last line'),
    envOption(PREFIX, '--only <checks>', 'run only these checks (ids or names, comma-separated)').argParser(parseCheckList).default([]),
    envOption(PREFIX, '--skip <checks>', 'skip these checks (ids or names, comma-separated)').argParser(parseCheckList).default([]),
    envOption(PREFIX, '--check-timeout <ms>', 'longest one check may take').argParser(integer(100)).default(d.checkTimeoutMs),
    envOption(PREFIX, '--answer-timeout <ms>', 'how long one answer is waited for').argParser(integer(10)).default(d.answerTimeoutMs),
    envOption(PREFIX, '--start-timeout <ms>', 'how long a started submission has to listen (or register)').argParser(integer(10)).default(d.startTimeoutMs),
    envOption(PREFIX, '--count <n>', 'packets or requests of the balancing check').argParser(integer(4, 1_000_000)).default(d.balanceCount),
    envOption(PREFIX, '--failover-count <n>', 'packets or requests sent after a server is killed').argParser(integer(2, 100_000)).default(d.failoverCount),
    envOption(PREFIX, '--pipeline <n>', 'packets or requests pipelined in one write').argParser(integer(2, 10_000)).default(d.pipelineCount),
    envOption(PREFIX, '--clients <n>', 'clients at once in the concurrency check').argParser(integer(2, 10_000)).default(d.concurrentClients),
    envOption(PREFIX, '--per-client <n>', 'packets or requests each of those clients sends').argParser(integer(1, 10_000)).default(d.perClientCount),
  ];
}

function settingsOf(options: CliOptions): GradeSettings {
  return {
    checkTimeoutMs: options.checkTimeout,
    answerTimeoutMs: options.answerTimeout,
    startTimeoutMs: options.startTimeout,
    balanceCount: options.count,
    failoverCount: options.failoverCount,
    pipelineCount: options.pipeline,
    concurrentClients: options.clients,
    perClientCount: options.perClient,
  };
}

/** One line per check on stderr as it ends, when a person is watching. */
function progress(result: CheckResult): void {
  if (process.stderr.isTTY) process.stderr.write(`  ${result.passed ? 'pass' : 'FAIL'}  ${result.name}\n`);
}

async function gradeOne(kind: Kind, options: CliOptions): Promise<number> {
  if (options.start === undefined && options.cwd !== undefined) throw new InvalidArgumentError('--cwd needs --start');
  if (kind !== 'server' && options.target === undefined) {
    if (options.start === undefined) throw new InvalidArgumentError('--target HOST:PORT is required (or --start CMD, which then gets a free port as {port})');
  }
  if (kind === 'http-proxy' && options.servers === undefined && options.start === undefined) {
    throw new InvalidArgumentError('http-proxy needs --servers FILE (the servers.conf the proxy was started with) or --start CMD (given {servers})');
  }
  const request: GradeRequest = {
    kind,
    target: options.target,
    command: options.start,
    cwd: options.cwd,
    listen: options.listen,
    serversFile: options.servers,
    settings: settingsOf(options),
    only: options.only,
    skip: options.skip,
    onResult: progress,
    onListening: (at) => {
      if (options.start === undefined) process.stderr.write(`${NAME}: waiting for a server to register with ${at.host}:${at.port}\n`);
    },
  };
  const result: Grade = kind !== 'server' && options.target === undefined ? await gradeOnFreePort(request, freePort) : await grade(request);
  process.stdout.write(formatGrade(result));
  if (options.json === true) process.stdout.write(JSON.stringify(result) + '\n');
  return result.score === result.max ? EXIT.PASSED : EXIT.FAILED;
}

async function gradeBatch(kind: Kind | undefined, options: CliOptions): Promise<number> {
  const entries = loadBatch(options.batch!, kind, options.start);
  mkdirSync(options.out, { recursive: true });
  const results = await runBatch(entries, {
    settings: settingsOf(options),
    only: options.only,
    skip: options.skip,
    onStart: (entry) => process.stderr.isTTY && process.stderr.write(`grading ${entry.name} (${entry.kind})\n`),
  });
  const files = writeBatch(results, options.out);
  process.stdout.write(formatBatch(results));
  process.stdout.write(`wrote ${files.csv} and ${files.json}\n`);
  if (options.json === true) process.stdout.write(JSON.stringify(batchSummary(results)) + '\n');
  return results.every((entry) => entry.grade !== undefined && entry.grade.score === entry.grade.max) ? EXIT.PASSED : EXIT.FAILED;
}

/** Runs a subcommand's work; usage-type errors exit 2 with one line, as the other commands do. */
async function act(kind: Kind | undefined, options: CliOptions): Promise<void> {
  try {
    if (options.batch !== undefined) process.exitCode = await gradeBatch(kind, options);
    else if (kind === undefined) {
      const given = (['target', 'servers', 'listen'] as const).find((name) => options[name] !== undefined);
      if (given !== undefined) throw new InvalidArgumentError(`--${given} belongs to a subcommand, which is missing: policy-grade ${given === 'servers' ? 'http-proxy' : given === 'listen' ? 'server' : '{broker,server,http-proxy}'} --${given} …`);
      throw new InvalidArgumentError('name a kind (broker, server, http-proxy) or give --batch');
    }
    else process.exitCode = await gradeOne(kind, options);
  } catch (err) {
    const usage = err instanceof InvalidArgumentError || err instanceof CheckSelectionError || err instanceof ManifestError || err instanceof ServersFileError || err instanceof TargetError;
    process.stderr.write(`${NAME}: ${usage && !(err instanceof TargetError) ? 'error: ' : ''}${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = usage ? EXIT_USAGE : EXIT.FAILED;
  }
}

function checkList(kind: Kind): string {
  return `\nChecks (--only/--skip take these ids):\n${checksOf(kind).map((check) => `  ${check.id.padEnd(16)} ${check.points} pt  ${check.name}`).join('\n')}\n`;
}

const program = new Command(NAME)
  .description('Grade a broker, a packet server or an HTTP proxy from outside, as an instructor would (docs/grading.md)')
  .version(PACKAGE_VERSION)
  // Options before a subcommand are the program's (--batch without a kind), after it the subcommand's.
  .enablePositionalOptions()
  // Subcommands copy these settings when created: parseOrExit's one-line usage errors and exit 2 then cover them too.
  .exitOverride()
  .configureOutput({ writeErr: () => undefined });
for (const option of commonOptions()) program.addOption(option);
// The subcommands' own options, accepted before the subcommand too, and named when it is missing.
program.addOption(new Option('--target <host:port>').argParser(hostPort).hideHelp());
program.addOption(new Option('--listen <host:port>').argParser(hostPort).hideHelp());
program.addOption(new Option('--servers <file>').hideHelp());
// A word that is no subcommand lands here, and is named in the error instead of "too many arguments".
program.argument('[kind]').action((kind: string | undefined, options: CliOptions) => {
  if (kind !== undefined) program.error(`unknown kind "${kind}"; the kinds are ${KINDS.join(', ')}`);
  return act(undefined, options);
});

const targetOption = () => envOption(PREFIX, '--target <host:port>', "the submission's address").argParser(hostPort);

const broker = program
  .command('broker')
  .description("grade a broker speaking the classic protocol: the grader's servers register with it, its clients send packets")
  .addOption(targetOption())
  .addHelpText('after', checkList('broker'));
const server = program
  .command('server')
  .description('grade a packet server: it registers with the grader (acting as a broker, --listen), or --target dials its port directly')
  .addOption(envOption(PREFIX, '--target <host:port>', "the server's listenport, dialed directly (no registration is graded)").argParser(hostPort))
  .addOption(envOption(PREFIX, '--listen <host:port>', 'where the grader listens for the registration (default: 127.0.0.1, any free port); {broker} in --start').argParser(hostPort))
  .addHelpText('after', checkList('server'));
const httpProxy = program
  .command('http-proxy')
  .description("grade an HTTP proxy / load balancer over the grader's own backends")
  .addOption(targetOption())
  .addOption(envOption(PREFIX, '--servers <file>', 'the servers.conf the proxy uses: the grader runs its backends at those (loopback) addresses'))
  .addHelpText('after', checkList('http-proxy'));
for (const [command, kind] of [
  [broker, 'broker'],
  [server, 'server'],
  [httpProxy, 'http-proxy'],
] as const) {
  for (const option of commonOptions()) command.addOption(option);
  // `policy-grade --target X broker` puts --target before the subcommand: it still counts.
  command.action((options: CliOptions) => {
    const before = program.opts<CliOptions>();
    return act(kind, { ...options, target: options.target ?? before.target, servers: options.servers ?? before.servers, listen: options.listen ?? before.listen });
  });
}

await parseOrExit(program);
