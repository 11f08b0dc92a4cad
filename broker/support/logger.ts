/**
 * winston, set up once for all three programs: JSON lines for production (and whenever stderr
 * is not a terminal), readable lines for development, nothing at all with level "silent".
 */
import winston from 'winston';

export type Logger = winston.Logger;
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

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const base = options.name === undefined ? {} : { program: options.name };
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: base,
    format:
      format === 'json'
        ? winston.format.combine(winston.format.timestamp(), winston.format.json())
        : winston.format.combine(
            winston.format.colorize(),
            winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
            winston.format.printf(({ timestamp, level: lvl, message, program, ...rest }) => {
              const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
              return `${String(timestamp)} ${lvl} ${program === undefined ? '' : `[${String(program)}] `}${String(message)}${extra}`;
            }),
          ),
    // Logs go to stderr: stdout is kept for the programs' own output (ready lines, summaries).
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything, for embedding and tests. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}
