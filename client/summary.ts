/**
 * The statistics of a load run: what was sent, what came back (by server and by error code),
 * what verified, how fast. Counting here, formatting for people at the bottom.
 */
import type { LatencyRecorder } from './latency.js';

/** The outcome of a load run; the CLI prints it as one JSON object with --json. */
export interface LoadSummary {
  /** Packets written. */
  sent: number;
  /** Packets answered, by a type 2 reply or a type 3 error. */
  answered: number;
  /** sent - answered: no answer at all (local timeout, connection closed). */
  lost: number;
  /** Answers and failures by code: the broker's type 3 codes, and TIMEOUT_LOCAL / CONNECTION_CLOSED for lost packets. */
  errors: Record<string, number>;
  /** Type 2 replies by the id of the server that answered. */
  byServer: Record<string, number>;
  /** Replies whose payload was the SHA-1 of the packet's (with verify 'sha1'). */
  verified: number;
  verifyFailed: number;
  /** Answers per second over the whole run. */
  rps: number;
  /** Latency of type 2 replies, from send to answer. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  durationMs: number;
  /** Packets sent again to another broker (--broker with several) after their connection was lost unanswered. */
  resubmitted: number;
  /** Broker connections given up because the broker stayed silent with packets waiting (ClientOptions.silenceMs). */
  silentBrokers: number;
}

export class LoadStats {
  sent = 0;
  answered = 0;
  verified = 0;
  verifyFailed = 0;
  /** Sends that got no answer (each counted in errors by its local code too). */
  failed = 0;
  private readonly errors = new Map<string, number>();
  private readonly byServer = new Map<number, number>();

  constructor(private readonly latencies: LatencyRecorder) {}

  /** A type 2 reply from serverId; `verifiedOk` is undefined when not verifying. */
  reply(serverId: number, latencyMs: number, verifiedOk: boolean | undefined): void {
    this.answered++;
    this.latencies.record(latencyMs);
    this.byServer.set(serverId, (this.byServer.get(serverId) ?? 0) + 1);
    if (verifiedOk === true) this.verified++;
    else if (verifiedOk === false) this.verifyFailed++;
  }

  /** A type 3 error from the broker (or any answer that is not a reply). */
  error(code: string): void {
    this.answered++;
    this.count(code);
  }

  /** No answer at all: the send failed locally with this code. */
  failure(code: string): void {
    this.failed++;
    this.count(code);
  }

  /** The numbers so far, over durationMs. */
  /** Packets sent again to another broker after a lost connection (read from the clients at the end). */
  resubmitted = 0;
  /** Connections dropped for a silent broker (read from the clients at the end). */
  silentBrokers = 0;

  summary(durationMs: number): LoadSummary {
    return {
      sent: this.sent,
      answered: this.answered,
      lost: this.sent - this.answered,
      errors: Object.fromEntries([...this.errors].sort(([a], [b]) => a.localeCompare(b))),
      byServer: Object.fromEntries([...this.byServer].sort(([a], [b]) => a - b).map(([id, n]) => [String(id), n])),
      verified: this.verified,
      verifyFailed: this.verifyFailed,
      rps: round(durationMs > 0 ? (this.answered * 1000) / durationMs : 0, 1),
      p50Ms: round(this.latencies.percentile(0.5), 3),
      p99Ms: round(this.latencies.percentile(0.99), 3),
      maxMs: round(this.latencies.max, 3),
      durationMs: round(durationMs, 1),
      resubmitted: this.resubmitted,
      silentBrokers: this.silentBrokers,
    };
  }

  private count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

/**
 * The exit code of a load run: 1 when any packet failed (lost, answered with an error, or a
 * reply that did not verify), else 0. `allowErrors` (--allow-errors) lets error answers pass,
 * for runs that expect some (servers killed on purpose, a policy with no server); lost packets
 * and failed verification still fail the run: those break the broker's guarantees.
 */
export function loadExitCode(summary: LoadSummary, allowErrors: boolean): number {
  if (summary.lost > 0 || summary.verifyFailed > 0) return 1;
  const replies = Object.values(summary.byServer).reduce((sum, n) => sum + n, 0);
  const errorAnswers = summary.answered - replies;
  return errorAnswers > 0 && !allowErrors ? 1 : 0;
}

/** The summary as an aligned table for a terminal, one fact a line, ending in "\n". */
export function formatSummary(summary: LoadSummary, options: { verify: boolean }): string {
  const errors = Object.entries(summary.errors);
  const servers = Object.entries(summary.byServer);
  const rows: Array<[string, string]> = [
    ['sent', String(summary.sent)],
    ['answered', String(summary.answered)],
    ['lost', String(summary.lost)],
    ['errors', errors.length === 0 ? 'none' : errors.map(([code, n]) => `${code} ${n}`).join(', ')],
    ['by server', servers.length === 0 ? 'none' : servers.map(([id, n]) => `${id}: ${n}`).join(', ')],
  ];
  if (options.verify) rows.push(['verified', `${summary.verified} ok, ${summary.verifyFailed} failed`]);
  rows.push(
    ['rate', `${summary.rps} answers/s`],
    ['latency', `p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms, max ${summary.maxMs} ms`],
    ['duration', `${summary.durationMs} ms`],
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n') + '\n';
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
