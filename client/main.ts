#!/usr/bin/env -S node --min-semi-space-size=16
/**
 * policy-client: send one packet (or a file of them) and print the answers, or load the broker
 * with --count / --duration and print a summary. Wiring only; the work is in client.ts and load.ts.
 */
import { sha1Hex } from '../broker/support/sha1.js';
import { Command, InvalidArgumentError } from 'commander';
import { envOption, hostPortList, integer, loggingOptions, parseOrExit } from '../broker/support/cli.js';
import { PACKAGE_VERSION } from '../broker/support/version.js';
import { createLogger, type LogFormat, type LogLevel, type Logger } from '../broker/support/logger.js';
import { readFileSync } from 'node:fs';
import { BrokerClient, type ClientOptions } from './client.js';
import { randomAscii, runLoad } from './load.js';
import { CLIENT_DEFAULTS, LOAD_DEFAULTS, VERIFY_MODES, type VerifyMode } from './options.js';
import { readPacketFile, withPolicy } from './packet-file.js';
import { progressBar } from './progress.js';
import { formatSummary, loadExitCode } from './summary.js';

const NAME = 'policy-client';
const PREFIX = 'POLICY_CLIENT';
const MAX_PAYLOAD_SIZE = 256 * 1024 * 1024;

interface CliOptions {
  /** The broker, then others sharing its registry to fail over to. */
  broker: Array<{ host: string; port: number }>;
  policy: number;
  srcid: number;
  payload: string;
  payloadSize?: number;
  file?: string;
  count?: number;
  duration?: number;
  concurrency: number;
  connections?: number;
  timeout: number;
  silence: number;
  verify: VerifyMode;
  json?: boolean;
  allowErrors?: boolean;
  tls?: boolean;
  ca?: string;
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

/** Seconds, fractions allowed: "2", "0.5". */
function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 31_536_000) {
    throw new InvalidArgumentError(`expected a number of seconds above 0, got "${value}"`);
  }
  return n;
}

const program = new Command(NAME)
  .description('Send packets to a policy broker and print the answers, or put load on it')
  .version(PACKAGE_VERSION)
  .addOption(envOption(PREFIX, '--broker <host:port[,host:port…]>', "the broker's packet port; several brokers sharing a registry: the first, then the next when one is lost, unanswered packets sent again").argParser(hostPortList).default([{ host: CLIENT_DEFAULTS.host, port: CLIENT_DEFAULTS.port }], `${CLIENT_DEFAULTS.host}:${CLIENT_DEFAULTS.port}`))
  .addOption(envOption(PREFIX, '--policy <n>', 'privacy policy of the packets').argParser(integer(0)).default(LOAD_DEFAULTS.policy))
  .addOption(envOption(PREFIX, '--srcid <n>', 'client id sent as srcid').argParser(integer(0)).default(LOAD_DEFAULTS.srcid))
  .addOption(envOption(PREFIX, '--payload <text>', 'payload of the packets').default(LOAD_DEFAULTS.payload))
  .addOption(envOption(PREFIX, '--payload-size <n>', 'send random ASCII payloads of this length instead').argParser(integer(0, MAX_PAYLOAD_SIZE)))
  .addOption(envOption(PREFIX, '--file <path>', 'send the packet(s) in this file as written: one JSON object (may be pretty-printed) or NDJSON; --policy given too replaces their policy'))
  .addOption(envOption(PREFIX, '--count <n>', 'load: send this many packets').argParser(integer(1)))
  .addOption(envOption(PREFIX, '--duration <seconds>', 'load: send for this long').argParser(seconds))
  .addOption(envOption(PREFIX, '--concurrency <n>', 'load: packets in flight at once').argParser(integer(1, 1_000_000)).default(LOAD_DEFAULTS.concurrency))
  .addOption(envOption(PREFIX, '--connections <n>', 'load: connections to spread them over (default: min(4, concurrency))').argParser(integer(1, 10_000)))
  .addOption(envOption(PREFIX, '--timeout <ms>', 'how long a packet waits for its answer').argParser(integer(1)).default(CLIENT_DEFAULTS.timeoutMs))
  .addOption(envOption(PREFIX, '--silence <ms>', 'with several brokers: a broker that sends nothing for this long while packets wait is taken for dead, its packets sent to the next (0: off; keep it above the brokers\' --server-timeout)').argParser(integer(0)).default(CLIENT_DEFAULTS.silenceMs))
  .addOption(envOption(PREFIX, '--verify <mode>', "check that each reply's payload is the SHA-1 of the packet's").choices(VERIFY_MODES).default('none'))
  .addOption(envOption(PREFIX, '--json', 'load: print the summary as one JSON object on the last line'))
  .addOption(envOption(PREFIX, '--allow-errors', 'load: exit 0 even when packets were answered with errors (lost or unverified packets still exit 1)'))
  .addOption(envOption(PREFIX, '--tls', 'connect to the broker with TLS (a broker started with --tls-cert)'))
  .addOption(envOption(PREFIX, '--ca <file>', 'with --tls: PEM CA the broker\'s certificate must chain to (default: Node\'s CAs)'));
for (const option of loggingOptions(PREFIX)) program.addOption(option);

program.action(async (options: CliOptions) => {
  const isLoad = options.count !== undefined || options.duration !== undefined;
  if (isLoad && options.file !== undefined) program.error('--file cannot be combined with --count or --duration');
  const logger = createLogger({ level: options.logLevel, format: options.logFormat, name: NAME });
  try {
    if (isLoad) process.exitCode = await load(options, logger);
    else if (options.file !== undefined) process.exitCode = await sendFile(options.file, policyOverride(), options, logger);
    else process.exitCode = await sendOne(options, logger);
  } catch (err) {
    process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
});

/** One packet, its answer on stdout; 0 for a (verified) type 2 reply. */
async function sendOne(options: CliOptions, logger: Logger): Promise<number> {
  const client = await connect(options, logger);
  try {
    const payload = options.payloadSize === undefined ? options.payload : randomAscii(options.payloadSize);
    const answer = await client.send({ type: 0, srcid: options.srcid, privPoliId: options.policy, payloadsize: payload.length, payload });
    process.stdout.write(JSON.stringify(answer) + '\n');
    if (answer.type !== 2) return 1;
    if (options.verify === 'sha1' && answer.payload !== sha1Hex(payload)) {
      process.stderr.write(`${NAME}: the reply's payload is not the SHA-1 of the payload sent\n`);
      return 1;
    }
    return 0;
  } finally {
    await client.close();
  }
}

/** --policy when the user gave it (command line or environment), not its default. */
function policyOverride(): number | undefined {
  const source = program.getOptionValueSource('policy');
  return source === 'cli' || source === 'env' ? (program.opts().policy as number) : undefined;
}

/**
 * The file's packets one after another, each answer on stdout; 0 when all are type 2 replies.
 * With `policy` every packet goes to that policy instead of the one written in the file.
 */
async function sendFile(path: string, policy: number | undefined, options: CliOptions, logger: Logger): Promise<number> {
  const written = await readPacketFile(path);
  const packets = policy === undefined ? written : withPolicy(written, policy);
  const client = await connect(options, logger);
  let code = 0;
  try {
    for (const packet of packets) {
      const answer = await client.send(packet);
      process.stdout.write(JSON.stringify(answer) + '\n');
      if (answer.type !== 2) code = 1;
    }
  } finally {
    await client.close();
  }
  return code;
}

/** A load run, its summary on stdout; its exit code from loadExitCode(). */
async function load(options: CliOptions, logger: Logger): Promise<number> {
  const durationMs = options.duration === undefined ? undefined : options.duration * 1000;
  const bar = process.stderr.isTTY ? progressBar(process.stderr, { count: options.count, durationMs }) : null;
  try {
    const summary = await runLoad({
      ...brokerOptions(options),
      count: options.count,
      durationMs,
      concurrency: options.concurrency,
      connections: options.connections,
      payload: options.payload,
      payloadSize: options.payloadSize,
      policy: options.policy,
      srcid: options.srcid,
      timeoutMs: options.timeout,
      silenceMs: options.silence,
      tls: tlsOption(options),
      verify: options.verify,
      onProgress: bar === null ? undefined : (progress) => bar.update(progress),
      logger,
    });
    bar?.stop();
    process.stdout.write(options.json === true ? JSON.stringify(summary) + '\n' : formatSummary(summary, { verify: options.verify === 'sha1' }));
    return loadExitCode(summary, options.allowErrors === true);
  } finally {
    bar?.stop();
  }
}

function connect(options: CliOptions, logger: Logger): Promise<BrokerClient> {
  return BrokerClient.connect({ ...brokerOptions(options), timeoutMs: options.timeout, silenceMs: options.silence, tls: tlsOption(options), logger });
}

/** The first broker to connect to, and the others (if any) to fail over to. */
function brokerOptions(options: CliOptions): { host: string; port: number; brokers?: Array<{ host: string; port: number }> } {
  const [first, ...others] = options.broker;
  return { host: first!.host, port: first!.port, ...(others.length > 0 && { brokers: others }) };
}

/** --tls and --ca as the client's tls option. */
function tlsOption(options: CliOptions): ClientOptions['tls'] {
  if (options.tls !== true) {
    if (options.ca !== undefined) program.error('--ca needs --tls');
    return undefined;
  }
  return options.ca === undefined ? true : { ca: readFileSync(options.ca) };
}

await parseOrExit(program);
