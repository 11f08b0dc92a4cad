/**
 * What the shell scripts hand to the report: a manifest of tab-separated lines ("kind\tfield\t…"),
 * the last stdout line of each client (its --json summary), and the broker's JSON log lines.
 * Parsing only; the reports decide what the lines mean.
 */
import type { LoadSummary } from '../../client/summary.js';

/** One manifest line split at tabs; blank lines and lines starting with # are skipped. */
export type ManifestLine = string[];

export function parseManifest(text: string): ManifestLine[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split('\t'));
}

/** The lines of one kind, without the kind. */
export function linesOf(manifest: ManifestLine[], kind: string): string[][] {
  return manifest.filter((line) => line[0] === kind).map((line) => line.slice(1));
}

/** A whole number from a manifest field; throws naming the field otherwise. */
export function int(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isSafeInteger(n)) throw new Error(`manifest: ${what} is not a whole number: "${String(value)}"`);
  return n;
}

/** The last non-blank line of a program's stdout parsed as a client summary, if it is one. */
export function summaryFrom(stdout: string): LoadSummary | undefined {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const last = lines[lines.length - 1];
  if (last === undefined || !last.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(last) as Partial<LoadSummary>;
    if (typeof value.sent !== 'number' || typeof value.byServer !== 'object' || value.byServer === null) return undefined;
    return value as LoadSummary;
  } catch {
    return undefined;
  }
}

/** A broker log line (--log-format json): message plus fields. */
export interface LogEvent {
  message: string;
  [field: string]: unknown;
}

/** The JSON lines of a log; anything else (pretty lines, partial writes) is skipped. */
export function parseLog(text: string): LogEvent[] {
  const events: LogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (typeof value.message === 'string') events.push(value as LogEvent);
    } catch {
      // not a complete JSON line
    }
  }
  return events;
}

/** What the broker logs when it loses a server: taken out of selection, or gone. */
export const SERVER_LOSS_MESSAGES = ['server connection lost', 'server missed its heartbeats', 'server draining', 'server left while draining', 'server removed'] as const;

/** The broker's loss events for one server id, in log order, as "message (reason)". */
export function lossEventsOf(events: LogEvent[], id: number): string[] {
  return events
    .filter((event) => event.id === id && (SERVER_LOSS_MESSAGES as readonly string[]).includes(event.message))
    .map((event) => (typeof event.reason === 'string' ? `${event.message} (${event.reason})` : event.message));
}
