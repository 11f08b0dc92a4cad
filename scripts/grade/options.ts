/**
 * Every default of policy-grade in one place: what each check sends and how long it waits.
 * Tests pass smaller counts; an instructor may pass larger ones for a finer measurement.
 */

export const KINDS = ['broker', 'server', 'http-proxy'] as const;
export type Kind = (typeof KINDS)[number];

export interface GradeSettings {
  /** Longest a single check may take, in ms; past it the check fails ("timed out"). */
  checkTimeoutMs: number;
  /** How long one answer (packet or HTTP response) is waited for, in ms. */
  answerTimeoutMs: number;
  /** How long a started submission has to accept connections (or, for a server, to register), in ms. */
  startTimeoutMs: number;
  /** Packets or requests of the balancing check (spread over the target's servers). */
  balanceCount: number;
  /** Packets or requests sent after a server is killed. */
  failoverCount: number;
  /** Packets or requests pipelined in one write. */
  pipelineCount: number;
  /** Clients at once in the concurrency check. */
  concurrentClients: number;
  /** Packets or requests each of those clients sends, one after another. */
  perClientCount: number;
}

export const GRADE_DEFAULTS: GradeSettings = {
  checkTimeoutMs: 20_000,
  answerTimeoutMs: 3_000,
  startTimeoutMs: 15_000,
  balanceCount: 300,
  failoverCount: 40,
  pipelineCount: 20,
  concurrentClients: 20,
  perClientCount: 5,
};

/** Policies of the grader's own servers in broker mode; no server ever registers UNKNOWN_POLICY. */
export const POLICY_A = 111;
export const POLICY_B = 222;
export const UNKNOWN_POLICY = 999;
/**
 * Ids of the grader's own servers (A1 and A2 in POLICY_A, B1 in POLICY_B): three distinct ids,
 * random per run, so that a submission cannot recognise the grader's servers by their ids.
 */
export function randomServerIds(random: () => number = Math.random): { a1: number; a2: number; b1: number } {
  const ids = new Set<number>();
  while (ids.size < 3) ids.add(100 + Math.floor(random() * 9900));
  const [a1, a2, b1] = [...ids] as [number, number, number];
  return { a1, a2, b1 };
}
/** The first client id (srcid) of the grader's packets: random per run too; each packet takes the next. */
export const GRADER_SRCID = 10_000 + Math.floor(Math.random() * 80_000);

/** How long the grader waits for a TCP connection to the target, in ms. */
export const CONNECT_TIMEOUT_MS = 2_000;

/** Exit codes: every check passed, some failed, bad usage or unreachable target. */
export const EXIT = { PASSED: 0, FAILED: 1, USAGE: 2 } as const;
