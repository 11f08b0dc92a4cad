#!/usr/bin/env -S node --min-semi-space-size=16
/** policy-broker: parse options, start the broker, stop it on SIGINT/SIGTERM. Nothing else. */
import cluster from 'node:cluster';
import { Command, type Option } from 'commander';
import { createBroker } from './broker.js';
import { ctlCommand } from './ctl/command.js';
import { loadPlugins, PluginError } from './hooks/plugin.js';
import { RegistryError } from './registry/registry-url.js';
import type { OptionSpec } from './option-spec.js';
import { ServersFileError } from './support/servers-file.js';
import { BROKER_OPTIONS, OptionError, resolveBrokerOptions, type OptionName } from './options.js';
import { envOption, EXIT_USAGE, loggingOptions, parseOrExit } from './support/cli.js';
import { PACKAGE_VERSION } from './support/version.js';
import { createLogger, type LogFormat, type LogLevel } from './support/logger.js';

const ENV = 'POLICY_BROKER';

const program = new Command('policy-broker').description('Routes client packets to servers grouped by privacy policy (NDJSON over TCP).').version(PACKAGE_VERSION);
/** Each broker option's commander option, from the one option table. */
const fromTable = (Object.entries(BROKER_OPTIONS) as Array<[OptionName, OptionSpec<unknown>]>).map(([name, spec]): [OptionName, Option] => {
  const option = envOption(ENV, spec.flags, spec.description);
  if (spec.parse !== undefined) option.argParser(spec.parse);
  if (spec.choices !== undefined) option.choices(spec.choices);
  // Lists are shown by their meaning, not as "[]".
  if (spec.default !== undefined && !Array.isArray(spec.default)) option.default(spec.default);
  program.addOption(option);
  return [name, option];
});
for (const option of loggingOptions(ENV)) program.addOption(option);
// `policy-broker ctl …` operates a running broker; the broker's own options go before it, if any.
program.enablePositionalOptions().addCommand(ctlCommand());

program.action(async (opts: Record<string, unknown>) => {
  // Commander checked both against their choices.
  const logger = createLogger({ level: opts.logLevel as LogLevel, format: opts.logFormat as LogFormat | undefined, name: 'broker' });
  let workerCount = 0;
  let broker;
  try {
    const given = Object.fromEntries(fromTable.map(([name, option]) => [name, opts[option.attributeName()]]));
    // --plugin files become interceptors here, in every --workers process, before anything listens.
    const interceptors = await loadPlugins((given.plugin as string[] | undefined) ?? []);
    const settings = resolveBrokerOptions({ ...given, plugin: [], interceptors, logger });
    workerCount = settings.workers;
    // --workers: this is either one of the HTTP workers (cluster re-ran this program) or their primary.
    if (cluster.isWorker) return (await import('./cluster/worker.js')).runWorker(settings);
    broker = workerCount > 0 ? new (await import('./cluster/primary.js')).BrokerCluster(settings) : createBroker(settings);
  } catch (err) {
    if (!(err instanceof OptionError || err instanceof PluginError)) throw err;
    process.stderr.write(`policy-broker: error: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
  let address;
  try {
    address = await broker.listen();
  } catch (err) {
    if (err instanceof RegistryError) {
      // A wrong password or something that is not Redis is a usage error; Redis not answering
      // within --registry-wait is not.
      process.stderr.write(`policy-broker: error: ${err.message}\n`);
      process.exit(err.code === 'UNREACHABLE' ? 1 : EXIT_USAGE);
    }
    // The error names the address (the packet or the HTTP port) that could not be bound.
    process.stderr.write(`policy-broker: error: cannot listen: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    void broker.close().then(() => process.exit(0));
  };
  // SIGHUP reads servers.conf again (nginx -s reload): a bad file is logged and changes nothing.
  process.on('SIGHUP', () => {
    try {
      broker.reload();
    } catch (err) {
      if (!(err instanceof ServersFileError)) throw err;
    }
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // One machine-readable line on stdout, for scripts and tests that start the broker on port 0;
  // written once the signal handlers are in place, so that a stop right after it is graceful.
  const http = broker.httpAddress();
  const ready = {
    ready: true,
    packet: { host: address.address, port: address.port },
    ...(http && { http: { host: http.address, port: http.port } }),
    ...(workerCount > 0 && { workers: workerCount }),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});

await parseOrExit(program);
