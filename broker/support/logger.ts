/**
 * Logging for all three programs: JSON lines for production (and whenever stderr is not a
 * terminal), readable lines for development, nothing at all with level "silent".
 *
 * The lines are written by winston, loaded on the first line that passes the level: a broker
 * that logs nothing (level error or warn, all well) does not pay the RSS that winston with its
 * formats and transports takes once loaded (the broker's RSS is measured by the memory suites
 * of npm run bench, docs/benchmarks.md).
 */
import { createRequire } from 'node:module';
import type winston from 'winston';

/** What the programs log through; a winston logger is one. */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Names the program in every line. */
  name?: string;
}

type LineLevel = Exclude<LogLevel, 'silent'>;

export function createLogger(options: LoggerOptions = {}): Logger {
  return new LazyLogger(options.level ?? 'info', options.format ?? (process.stderr.isTTY ? 'pretty' : 'json'), options.name);
}

/** A logger that adds `meta` to every line of `logger` (an HTTP worker names itself this way). */
export function withMeta(logger: Logger, meta: Record<string, unknown>): Logger {
  return {
    error: (message, extra) => logger.error(message, { ...meta, ...extra }),
    warn: (message, extra) => logger.warn(message, { ...meta, ...extra }),
    info: (message, extra) => logger.info(message, { ...meta, ...extra }),
    debug: (message, extra) => logger.debug(message, { ...meta, ...extra }),
  };
}

/** A logger that drops everything, for embedding and tests. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}

/** Filters by level itself; makes the winston logger on the first line that passes. */
class LazyLogger implements Logger {
  /** Lines of this rank or lower pass (silent: none). */
  private readonly threshold: number;
  private target: winston.Logger | undefined = undefined;

  constructor(
    private readonly level: LogLevel,
    private readonly format: LogFormat,
    private readonly name: string | undefined,
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  error(message: string, meta?: Record<string, unknown>): void {
    this.log('error', message, meta);
  }

  warn(message: string, meta?: Record<string, unknown>): void {
    this.log('warn', message, meta);
  }

  info(message: string, meta?: Record<string, unknown>): void {
    this.log('info', message, meta);
  }

  debug(message: string, meta?: Record<string, unknown>): void {
    this.log('debug', message, meta);
  }

  private log(level: LineLevel, message: string, meta: Record<string, unknown> | undefined): void {
    if (LOG_LEVELS.indexOf(level) > this.threshold) return;
    this.target ??= createWinston(this.level as LineLevel, this.format, this.name);
    if (meta === undefined) this.target.log(level, message);
    else this.target.log(level, message, meta);
  }
}

function createWinston(level: LineLevel, format: LogFormat, name: string | undefined): winston.Logger {
  // require, not import(): the first line is logged synchronously, where it was asked for.
  const w = createRequire(import.meta.url)('winston') as typeof winston;
  return w.createLogger({
    level,
    defaultMeta: name === undefined ? {} : { program: name },
    format:
      format === 'json'
        ? w.format.combine(w.format.timestamp(), w.format.json())
        : w.format.combine(
            w.format.colorize(),
            w.format.timestamp({ format: 'HH:mm:ss.SSS' }),
            // A trace line's message says all of its `decision` field, for people: left out here.
            w.format.printf(({ timestamp, level: lvl, message, program, decision, ...rest }) => {
              const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
              return `${String(timestamp)} ${lvl} ${program === undefined ? '' : `[${String(program)}] `}${String(message)}${extra}`;
            }),
          ),
    // Logs go to stderr: stdout is kept for the programs' own output (ready lines, summaries).
    transports: [new w.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
