/**
 * Before a broker's checks: does it read classic packets (no newline) at all, and if not, would
 * it with one? A broker that reads lines (readline(), the natural reading of "one JSON object per
 * line") never answers a classic client, and would fail every check with "no answer". The probe
 * finds that once, so that only the framing check fails (naming the newline) and the others are
 * graded with a newline after each packet, and after each of the grader servers' replies when
 * the broker reads those by line too.
 */
import type { GraderServer } from './grader-server.js';
import { PacketConnection } from './packet-connection.js';

/** What the broker needs to read a packet; `classic` when it reads them without a newline (or never answers at all). */
export type Framing = { kind: 'classic' } | { kind: 'newline'; servers: boolean };

export interface ProbeTarget {
  host: string;
  port: number;
  answerTimeoutMs: number;
  servers: GraderServer[];
  /** A classic client packet (no newline) to a policy the grader's servers serve. */
  packet(): string;
}

/** Sends one packet on a fresh connection; true when anything at all comes back. */
async function answered(target: ProbeTarget, bytes: string): Promise<boolean> {
  const connection = await PacketConnection.open(target.host, target.port, target.answerTimeoutMs).catch(() => undefined);
  if (connection === undefined) return false;
  try {
    connection.write(bytes);
    return (await connection.next(target.answerTimeoutMs)).kind === 'packet';
  } finally {
    connection.destroy();
  }
}

export async function probeFraming(target: ProbeTarget): Promise<Framing> {
  if (await answered(target, target.packet())) return { kind: 'classic' };
  if (await answered(target, target.packet() + '\n')) return { kind: 'newline', servers: false };
  // Perhaps the broker also reads the servers' replies by line: a newline now ends the reply it waits for.
  for (const server of target.servers) server.useNewline(true);
  if (await answered(target, target.packet() + '\n')) return { kind: 'newline', servers: true };
  for (const server of target.servers) server.useNewline(false);
  return { kind: 'classic' };
}

/** The framing check's detail for a broker that needs newlines. */
export function newlineDiagnosis(framing: Extract<Framing, { kind: 'newline' }>, answerTimeoutMs: number): string {
  const servers = framing.servers ? "; it also reads the servers' replies by line (the classic server sends none)" : '';
  return (
    `a classic packet (one JSON object, no newline after it) got no answer within ${answerTimeoutMs} ms; the same packet followed by "\\n" was answered: ` +
    `the broker waits for a newline (readline()?), but classic clients send none and wait for the answer${servers}. ` +
    'Find the end of a packet at its closing brace (or accept both). The other checks were graded with a newline after every packet'
  );
}
