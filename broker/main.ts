#!/usr/bin/env -S node --min-semi-space-size=16
/** policy-broker: parse options, start the broker, stop it on SIGINT/SIGTERM. Nothing else. */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { createBroker } from './broker.js';
import { loadPlugins, PluginError } from './hooks/plugin.js';
import { httpOptions, httpSettings } from './http/http-cli.js';
import { BROKER_DEFAULTS, OptionError } from './options.js';
import { STRATEGY_NAMES, type StrategyName } from './routing/strategies/index.js';
import { envOption, EXIT_USAGE, integer, loggingOptions, parseOrExit } from './support/cli.js';
import { PACKAGE_VERSION } from './support/version.js';
import { createLogger, type LogFormat, type LogLevel } from './support/logger.js';

const ENV = 'POLICY_BROKER';
const d = BROKER_DEFAULTS;

const program = new Command('policy-broker')
  .description('Routes client packets to servers grouped by privacy policy (NDJSON over TCP).')
  .version(PACKAGE_VERSION)
  .addOption(envOption(ENV, '--host <address>', 'address to listen on (0.0.0.0 for other hosts)').default(d.host))
  .addOption(envOption(ENV, '-p, --port <port>', 'packet port (0 = any free port)').argParser(integer(0, 65535)).default(d.port))
  .addOption(envOption(ENV, '--algorithm <name>', 'server selection per packet').choices(STRATEGY_NAMES).default(d.algorithm))
  .addOption(envOption(ENV, '--max-packet-bytes <n>', 'longest packet accepted').argParser(integer(64, 256 * 1024 * 1024)).default(d.maxPacketBytes))
  .addOption(envOption(ENV, '--server-timeout <ms>', 'time a server has to answer before its packets are re-routed').argParser(integer(1)).default(d.serverTimeoutMs))
  .addOption(envOption(ENV, '--max-attempts <n>', 'servers tried per packet before an error').argParser(integer(1, 100)).default(d.maxAttempts))
  .addOption(envOption(ENV, '--max-client-inflight <n>', 'packets in flight per client connection').argParser(integer(1)).default(d.maxClientInflight))
  .addOption(envOption(ENV, '--server-queue <n>', 'packets queued per server beyond its maxInflight').argParser(integer(0)).default(d.serverQueueLimit))
  .addOption(envOption(ENV, '--dial-retry <ms>', 'how long to keep dialing a newly registered server').argParser(integer(0)).default(d.dialRetryMs))
  .addOption(envOption(ENV, '--heartbeat <ms>', 'heartbeat interval asked of session servers').argParser(integer(10)).default(d.heartbeatMs))
  .addOption(envOption(ENV, '--heartbeat-misses <n>', 'missed heartbeats before a server is taken out').argParser(integer(1, 1000)).default(d.heartbeatMisses))
  .addOption(envOption(ENV, '--idle-timeout <ms>', 'close connections that send nothing and wait for nothing this long (0 = never)').argParser(integer(0)).default(d.idleTimeoutMs))
  .addOption(envOption(ENV, '--header-timeout <ms>', 'close connections whose packet, once begun, is not complete this long (0 = never)').argParser(integer(0)).default(d.headerTimeoutMs))
  .addOption(envOption(ENV, '--max-connections <n>', 'open connections at once').argParser(integer(1)).default(d.maxConnections))
  .addOption(envOption(ENV, '--drain-timeout <ms>', 'how long shutdown waits for in-flight packets').argParser(integer(0)).default(d.drainTimeoutMs))
  .addOption(envOption(ENV, '--registration-secret <secret>', 'servers must send this secret to register'))
  .addOption(envOption(ENV, '--tls-cert <file>', 'PEM certificate: the listeners speak TLS (with --tls-key)'))
  .addOption(envOption(ENV, '--tls-key <file>', 'PEM private key of --tls-cert'))
  .addOption(envOption(ENV, '--server-ca <file>', 'PEM CA that certificates of servers registering with tls must chain to (default: Node\'s CAs)'))
  .addOption(envOption(ENV, '--plugin <file>', 'ES module whose default export is an interceptor or a list of them (docs/hooks.md); repeatable, or comma-separated').argParser(plugins).default([]))
  .addOption(envOption(ENV, '--workers <n>', 'HTTP worker processes (needs --http-port; "auto" = one per CPU; 0 = HTTP in this process)').argParser(workers).default(0));
for (const option of httpOptions(ENV)) program.addOption(option);
for (const option of loggingOptions(ENV)) program.addOption(option);

program.action(async (opts: Record<string, unknown>) => {
  const logger = createLogger({ level: opts.logLevel as LogLevel, format: opts.logFormat as LogFormat | undefined, name: 'broker' });
  const workers = opts.workers as number;
  let broker;
  try {
    const settings = {
      host: opts.host as string,
      port: opts.port as number,
      algorithm: opts.algorithm as StrategyName,
      maxPacketBytes: opts.maxPacketBytes as number,
      serverTimeoutMs: opts.serverTimeout as number,
      maxAttempts: opts.maxAttempts as number,
      maxClientInflight: opts.maxClientInflight as number,
      serverQueueLimit: opts.serverQueue as number,
      dialRetryMs: opts.dialRetry as number,
      heartbeatMs: opts.heartbeat as number,
      heartbeatMisses: opts.heartbeatMisses as number,
      idleTimeoutMs: opts.idleTimeout as number,
      headerTimeoutMs: opts.headerTimeout as number,
      maxConnections: opts.maxConnections as number,
      drainTimeoutMs: opts.drainTimeout as number,
      registrationSecret: opts.registrationSecret as string | undefined,
      tlsCert: opts.tlsCert as string | undefined,
      tlsKey: opts.tlsKey as string | undefined,
      serverCa: opts.serverCa as string | undefined,
      ...httpSettings(opts),
      interceptors: await loadPlugins(opts.plugin as string[]),
      logger,
    };
    // --workers: this is either one of the HTTP workers (cluster re-ran this program) or their primary.
    if (cluster.isWorker) return (await import('./cluster/worker.js')).runWorker(settings);
    broker = workers > 0 ? new (await import('./cluster/primary.js')).BrokerCluster(settings, workers) : createBroker(settings);
  } catch (err) {
    if (!(err instanceof OptionError || err instanceof PluginError)) throw err;
    process.stderr.write(`policy-broker: error: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
  let address;
  try {
    address = await broker.listen();
  } catch (err) {
    process.stderr.write(`policy-broker: error: cannot listen on ${String(opts.host)}:${String(opts.port)}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    void broker.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // One machine-readable line on stdout, for scripts and tests that start the broker on port 0;
  // written once the signal handlers are in place, so that a stop right after it is graceful.
  const http = broker.httpAddress();
  const ready = {
    ready: true,
    packet: { host: address.address, port: address.port },
    ...(http && { http: { host: http.address, port: http.port } }),
    ...(workers > 0 && { workers }),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});

/** --plugin: each use adds files (several, comma-separated, for the environment variable). */
function plugins(value: string, previous: string[]): string[] {
  const files = value.split(',').map((file) => file.trim()).filter((file) => file !== '');
  if (files.length === 0) throw new InvalidArgumentError('expected a file name');
  return [...previous, ...files];
}

/** --workers: a whole number from 0, or "auto" (one per CPU the process may use). */
function workers(value: string): number {
  if (value.trim() === 'auto') return availableParallelism();
  try {
    return integer(0, 1024)(value);
  } catch {
    throw new InvalidArgumentError(`expected a whole number from 0 to 1024 or "auto", got "${value}"`);
  }
}

await parseOrExit(program);
