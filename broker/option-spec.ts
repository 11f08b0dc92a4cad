/**
 * The kinds of broker option, each a small spec: its command-line flag (the environment name
 * comes from it), its default, how a command-line string becomes a value, and how a value
 * given to createBroker() is checked. options.ts lists every option once with these.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { AddressList, splitList } from './support/address-list.js';
import { integer } from './support/cli.js';
import { loadServersFile, ServersFileError, type StaticBackend } from './support/servers-file.js';

export interface OptionSpec<T> {
  /** Commander's flags, e.g. `--max-packet-bytes <n>`. */
  readonly flags: string;
  readonly description: string;
  readonly default: T;
  /** The choices, when the value is one of a list (shown in --help). */
  readonly choices?: readonly string[];
  /** The value of a command-line or environment string; throws InvalidArgumentError. */
  parse?(text: string, previous?: T): T;
  /** Why `value` cannot be this option's value, or undefined when it can. */
  problem(value: unknown): string | undefined;
}

/** A whole number in [min, max]. */
export function wholeNumber(flags: string, description: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): OptionSpec<number> {
  return { flags, description, default: fallback, parse: integer(min, max), problem: (v) => integerProblem(v, min, max) };
}

/**
 * A number of processes: a whole number in [0, max]; on the command line also "auto", one per
 * CPU the process may use.
 */
export function processCount(flags: string, description: string, max: number): OptionSpec<number> {
  const whole = integer(0, max);
  return {
    flags,
    description,
    default: 0,
    parse: (text) => {
      if (text.trim() === 'auto') return availableParallelism();
      try {
        return whole(text);
      } catch {
        throw new InvalidArgumentError(`expected a whole number from 0 to ${max} or "auto", got "${text}"`);
      }
    },
    problem: (v) => integerProblem(v, 0, max),
  };
}

/** A string that `check` accepts (returns why not, else undefined). */
export function text(flags: string, description: string, fallback: string, check: (v: string) => string | undefined = () => undefined): OptionSpec<string> {
  return { flags, description, default: fallback, problem: (v) => (typeof v === 'string' ? check(v) : `must be a string, got ${String(v)}`) };
}

/** The same option, unset by default; a string must then not be empty. */
export function optional<T>(spec: OptionSpec<T>): OptionSpec<T | undefined> {
  return { ...spec, default: undefined, problem: (v) => (v === undefined ? undefined : v === '' ? 'must not be empty' : spec.problem(v)) };
}

/** One of `values`. */
export function oneOf<T extends string>(flags: string, description: string, fallback: T, values: readonly T[]): OptionSpec<T> {
  return {
    flags,
    description,
    default: fallback,
    choices: values,
    problem: (v) => ((values as readonly unknown[]).includes(v) ? undefined : `must be one of ${values.join(', ')}, got "${String(v)}"`),
  };
}

/** On or off; on the command line, a flag without a value. */
export function flag(flags: string, description: string): OptionSpec<boolean> {
  return { flags, description, default: false, problem: (v) => (typeof v === 'boolean' ? undefined : `must be true or false, got ${String(v)}`) };
}

/** A fraction in (0, 1]. */
export function fraction(flags: string, description: string, fallback: number): OptionSpec<number> {
  const problem = (v: unknown) => (typeof v === 'number' && v > 0 && v <= 1 ? undefined : `must be a fraction in (0, 1], got ${String(v)}`);
  return {
    flags,
    description,
    default: fallback,
    parse: (text) => {
      const n = Number(text);
      if (text.trim() === '' || problem(n) !== undefined) throw new InvalidArgumentError(`expected a fraction above 0, at most 1, got "${text}"`);
      return n;
    },
    problem,
  };
}

/** Addresses and CIDR blocks; on the command line, comma-separated. */
export function addressList(flags: string, description: string): OptionSpec<string[]> {
  const problem = (v: unknown) => {
    if (!Array.isArray(v)) return 'must be a list of addresses or CIDR blocks';
    try {
      new AddressList(v as string[]);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    flags,
    description,
    default: [],
    parse: (text) => {
      const entries = splitList(text);
      const why = problem(entries);
      if (why !== undefined) throw new InvalidArgumentError(why);
      return entries;
    },
    problem,
  };
}

/** Static HTTP backends: on the command line, a servers.conf file to read. */
export function backendList(flags: string, description: string): OptionSpec<StaticBackend[]> {
  return {
    flags,
    description,
    default: [],
    parse: (path) => {
      try {
        return loadServersFile(path);
      } catch (err) {
        if (err instanceof ServersFileError) throw new InvalidArgumentError(err.message);
        throw err;
      }
    },
    problem: (v) => (Array.isArray(v) ? undefined : 'must be a list'),
  };
}

function integerProblem(value: unknown, min: number, max: number): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return undefined;
  return `must be a whole number from ${min} to ${max}, got ${String(value)}`;
}

/** Files named on the command line, the option repeated or its value comma-separated (and its environment variable so). */
export function fileList(flags: string, description: string): OptionSpec<string[]> {
  return {
    flags,
    description,
    default: [],
    parse: (value: string, previous?: string[]) => {
      const files = value.split(',').map((file) => file.trim()).filter((file) => file !== '');
      if (files.length === 0) throw new InvalidArgumentError('expected a file name');
      return [...(previous ?? []), ...files];
    },
    problem: (v) => (Array.isArray(v) && v.every((file) => typeof file === 'string') ? undefined : 'must be a list of file names'),
  };
}
