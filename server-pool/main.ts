#!/usr/bin/env -S node --min-semi-space-size=16
/**
 * policy-server-pool: starts packet servers, prints one ready line once all are registered,
 * and stops them gracefully on SIGINT/SIGTERM. Wiring only; the servers live in pool.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { envOption, hostPortList, integer, loggingOptions, parseOrExit } from '../broker/support/cli.js';
import { PACKAGE_VERSION } from '../broker/support/version.js';
import { createLogger, type LogFormat, type LogLevel } from '../broker/support/logger.js';
import { HANDLER_NAMES, type HandlerName } from './handlers.js';
import { MAX_INFLIGHT, SERVER_DEFAULTS, type BrokerAddress } from './options.js';
import { createPool } from './pool.js';
import { STOPPED, ServerError } from './errors.js';

const NAME = 'policy-server-pool';
const PREFIX = 'POLICY_SERVER_POOL';

interface CliOptions {
  /** The broker, then others sharing its registry to move to when it is lost. */
  broker: BrokerAddress[];
  policy: number;
  count: number;
  id: number;
  ids?: number[];
  port: number;
  listenHost: string;
  handler: HandlerName;
  delay: number;
  maxInflight: number;
  weight?: number;
  secret?: string;
  tlsCert?: string;
  tlsKey?: string;
  tls?: boolean;
  ca?: string;
  http: boolean;
  httpPort: number;
  brokerSilence?: number;
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

/** "100,101,105" → [100, 101, 105]. */
function idList(value: string): number[] {
  const parse = integer(0);
  const ids = value.split(',').map((part) => parse(part.trim()));
  if (new Set(ids).size !== ids.length) throw new InvalidArgumentError(`ids must not repeat, got "${value}"`);
  return ids;
}

const { broker, policy, id, port, listenHost, handler, delayMs, maxInflight } = SERVER_DEFAULTS;
const program = new Command(NAME)
  .description('Packet servers that register with a policy broker and answer its packets')
  .version(PACKAGE_VERSION)
  .addOption(envOption(PREFIX, '--broker <host:port[,host:port…]>', "the broker's packet port; several brokers sharing a registry: the first, then the next when one is lost").argParser(hostPortList).default([broker], `${broker.host}:${broker.port}`))
  .addOption(envOption(PREFIX, '--policy <n>', 'privacy policy the servers serve').argParser(integer(0)).default(policy))
  .addOption(envOption(PREFIX, '--count <n>', 'how many servers').argParser(integer(1, 10000)).default(1))
  .addOption(envOption(PREFIX, '--id <n>', 'id of the first server; the others count up').argParser(integer(0)).default(id))
  .addOption(envOption(PREFIX, '--ids <list>', 'comma-separated server ids (overrides --id and --count)').argParser(idList))
  .addOption(envOption(PREFIX, '--port <n>', 'listen port of the first server, the others count up; 0 = any free port').argParser(integer(0, 65535)).default(port))
  .addOption(envOption(PREFIX, '--listen-host <addr>', 'address the servers listen on').default(listenHost))
  .addOption(envOption(PREFIX, '--handler <name>', 'what a server computes from the payload').choices(HANDLER_NAMES).default(handler))
  .addOption(envOption(PREFIX, '--delay <ms>', 'simulated work per packet, in ms').argParser(integer(0, 3_600_000)).default(delayMs))
  .addOption(envOption(PREFIX, '--max-inflight <n>', 'packets a server handles at once per broker connection').argParser(integer(1, MAX_INFLIGHT)).default(maxInflight))
  .addOption(envOption(PREFIX, '--weight <n>', 'share of the policy\'s packets and requests relative to other servers (1-1000; brokers without weights ignore it) (default: 1)').argParser(integer(1, 1000)))
  .addOption(envOption(PREFIX, '--secret <secret>', 'registration secret the broker requires'))
  .addOption(envOption(PREFIX, '--tls-cert <file>', 'PEM certificate: the servers listen with TLS (with --tls-key) and tell the broker so'))
  .addOption(envOption(PREFIX, '--tls-key <file>', 'PEM private key of --tls-cert'))
  .addOption(envOption(PREFIX, '--tls', 'register with the broker over TLS (a broker started with --tls-cert)'))
  .addOption(envOption(PREFIX, '--ca <file>', 'with --tls: PEM CA the broker\'s certificate must chain to (default: Node\'s CAs)'))
  .addOption(envOption(PREFIX, '--http', 'each server also serves HTTP (a whoami page, GET /health) and registers its httpport').default(false))
  .addOption(envOption(PREFIX, '--http-port <n>', 'with --http: HTTP port of the first server, the others count up; 0 = any free port').argParser(integer(0, 65535)).default(0))
  .addOption(envOption(PREFIX, '--broker-silence <ms>', 'a broker that answers no heartbeat for this long is taken for lost: register with the next (default: 3 heartbeat periods; 0: off)').argParser(integer(0, 3_600_000)));
for (const option of loggingOptions(PREFIX)) program.addOption(option);

program.action(async (options: CliOptions) => {
  const count = options.ids?.length ?? options.count;
  if (options.port !== 0 && options.port + count - 1 > 65535) program.error(`--port ${options.port} leaves no room for ${count} servers`);
  if (options.httpPort !== 0 && options.httpPort + count - 1 > 65535) program.error(`--http-port ${options.httpPort} leaves no room for ${count} servers`);
  const logger = createLogger({ level: options.logLevel, format: options.logFormat, name: NAME });
  const pool = createPool({
    broker: options.broker[0],
    brokers: options.broker.slice(1),
    policy: options.policy,
    count: options.count,
    id: options.id,
    ids: options.ids,
    port: options.port,
    listenHost: options.listenHost,
    handler: options.handler,
    delayMs: options.delay,
    maxInflight: options.maxInflight,
    weight: options.weight,
    secret: options.secret,
    tlsCert: options.tlsCert,
    tlsKey: options.tlsKey,
    brokerTls: options.tls === true ? (options.ca === undefined ? true : { ca: readFileSync(options.ca) }) : undefined,
    http: options.http,
    httpPort: options.httpPort,
    brokerSilenceMs: options.brokerSilence,
    logger,
  });

  let stopping = false;
  const shutDown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means "now".
      process.exit(1);
    }
    stopping = true;
    logger.info('stopping', { signal });
    pool.stop().then(
      () => {
        logger.info('stopped', { served: pool.served });
        // Everything is closed, so the process ends by itself; the timer only guards against a leak.
        setTimeout(() => {
          logger.warn('still running after stop, exiting', { resources: process.getActiveResourcesInfo() });
          process.exit(0);
        }, 2000).unref();
      },
      (err: unknown) => {
        logger.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutDown);
  process.on('SIGTERM', shutDown);

  try {
    await pool.start();
  } catch (err) {
    if (err instanceof ServerError && err.code === STOPPED) return;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${NAME}: ${message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify({ ready: true, servers: pool.describe() }) + '\n');
});

await parseOrExit(program);
