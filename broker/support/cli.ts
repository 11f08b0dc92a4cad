/**
 * What the three commands share: every option settable from the environment, values checked
 * while parsing, and a bad option reported as one line with exit code 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';

export const EXIT_USAGE = 2;

/**
 * An option whose environment variable is PREFIX_NAME (e.g. --max-packet-bytes with prefix
 * POLICY_BROKER becomes POLICY_BROKER_MAX_PACKET_BYTES).
 */
export function envOption(prefix: string, flags: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1];
  if (long === undefined) throw new Error(`option without a long name: ${flags}`);
  return new Option(flags, description).env(`${prefix}_${long.toUpperCase().replace(/-/g, '_')}`);
}

/** A parser for whole numbers in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** A parser for "host:port" (host optional, default 127.0.0.1). */
export function hostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(value.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError(`expected HOST:PORT, got "${value}"`);
  }
  return { host: match[1] === undefined || match[1] === '' ? '127.0.0.1' : match[1], port };
}

/** HOST:PORT[,HOST:PORT…]: brokers sharing a registry, in the order to try them. */
export function hostPortList(value: string): Array<{ host: string; port: number }> {
  const list = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (list.length === 0) throw new InvalidArgumentError(`expected HOST:PORT[,HOST:PORT…], got "${value}"`);
  return list.map(hostPort);
}

/** The --log-level and --log-format options, as every command has them. */
export function loggingOptions(prefix: string): Option[] {
  return [
    envOption(prefix, '--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'),
    envOption(prefix, '--log-format <format>', 'pretty for people, json for machines (default: pretty on a terminal, else json)').choices(
      LOG_FORMATS,
    ),
  ];
}

/**
 * Parses argv; a usage error prints one line ("policy-broker: error: …") and exits 2, while
 * --help and --version exit 0 as usual.
 */
export async function parseOrExit(program: Command, argv: string[] = process.argv): Promise<void> {
  program.exitOverride();
  program.configureOutput({ writeErr: () => undefined });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      // A command called without its subcommand: its help went to stderr.
      if (err.code === 'commander.help') process.exit(EXIT_USAGE);
      const message = err.message.replace(/^error: /, '');
      process.stderr.write(`${program.name()}: error: ${message}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
}
