/**
 * The kinds of broker option, each a small spec: its command-line flag (the environment name
 * comes from it), its default, how a command-line string becomes a value, and how a value
 * given to createBroker() is checked. options.ts lists every option once with these.
 */
import { InvalidArgumentError } from 'commander';
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
  parse?(text: string): T;
  /** Why `value` cannot be this option's value, or undefined when it can. */
  problem(value: unknown): string | undefined;
}

/** A whole number in [min, max]. */
export function wholeNumber(flags: string, description: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): OptionSpec<number> {
  return { flags, description, default: fallback, parse: integer(min, max), problem: (v) => integerProblem(v, min, max) };
}

/** A whole number in [min, max], or unset. */
export function optionalNumber(flags: string, description: string, min: number, max: number): OptionSpec<number | undefined> {
  return { flags, description, default: undefined, parse: integer(min, max), problem: (v) => (v === undefined ? undefined : integerProblem(v, min, max)) };
}

/** A string that `check` accepts (returns why not, else undefined). */
export function text(flags: string, description: string, fallback: string, check: (v: string) => string | undefined = () => undefined): OptionSpec<string> {
  return { flags, description, default: fallback, problem: (v) => (typeof v === 'string' ? check(v) : `must be a string, got ${String(v)}`) };
}

/** A non-empty string that `check` accepts, or unset. */
export function optionalText(flags: string, description: string, check: (v: string) => string | undefined = () => undefined): OptionSpec<string | undefined> {
  return {
    flags,
    description,
    default: undefined,
    problem: (v) => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return `must be a string, got ${String(v)}`;
      return v === '' ? 'must not be empty' : check(v);
    },
  };
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
