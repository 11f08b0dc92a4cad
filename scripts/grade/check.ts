/**
 * A check, what it found, and a grade: the vocabulary every kind of target shares. Pure: no
 * sockets here (runner.ts runs checks, report.ts prints them).
 */
import type { Kind } from './options.js';

/** What one check concluded. */
export interface Outcome {
  passed: boolean;
  /** One line a student can act on: counts seen, what was expected. */
  detail: string;
}

/**
 * One check against a target. `run` gets the kind's context (the grader's own servers, the
 * target's address) and a scope whose sockets and timers the runner closes when the check ends
 * or runs out of time.
 */
export interface Check<Context> {
  /** Short stable id for --only/--skip, e.g. "round-robin". */
  id: string;
  /** The name in the table and the JSON, e.g. "round-robin per packet". */
  name: string;
  points: number;
  run(context: Context, scope: Scope): Promise<Outcome>;
}

/** Resources a check opened; closed by the runner, so a check that times out leaves nothing behind. */
export interface Scope {
  /** Registers something to close when the check ends (at once, if it has ended); returns it. */
  own<T extends { destroy(): void }>(resource: T): T;
}

/** The outcome of a check that passed. */
export const pass = (detail: string): Outcome => ({ passed: true, detail });

/** The outcome of a check that failed. */
export const fail = (detail: string): Outcome => ({ passed: false, detail });

/** One row of a grade. */
export interface CheckResult {
  /** The check's stable id (as --only takes it): what a gradebook keys on. */
  id: string;
  name: string;
  passed: boolean;
  /** Points earned: all of the check's points or none. */
  points: number;
  /** Points the check is worth. */
  max: number;
  detail: string;
}

/** The grade of one target: what `--json` prints. */
export interface Grade {
  target: string;
  kind: Kind;
  score: number;
  max: number;
  checks: CheckResult[];
  /** How long grading took, start to end, in ms. */
  durationMs?: number;
  /** The last lines a submission the grader started printed (bounded), when it printed any. */
  output?: string;
}

/** Sums the checks into a grade. */
export function gradeOf(target: string, kind: Kind, checks: CheckResult[]): Grade {
  let score = 0;
  let max = 0;
  for (const check of checks) {
    score += check.points;
    max += check.max;
  }
  return { target, kind, score, max, checks };
}

/** The result row of a check that ran to an outcome. */
export function resultOf(check: Pick<Check<unknown>, 'id' | 'name' | 'points'>, outcome: Outcome): CheckResult {
  return { id: check.id, name: check.name, passed: outcome.passed, points: outcome.passed ? check.points : 0, max: check.points, detail: outcome.detail };
}

/** A check could not be chosen: the message lists the ones that exist. */
export class CheckSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckSelectionError';
  }
}

/**
 * The checks left after --only and --skip (each a list of ids or names); order is kept.
 * A name that matches no check is an error, so a typo never grades silently on fewer checks.
 */
export function selectChecks<C extends Pick<Check<unknown>, 'id' | 'name'>>(all: readonly C[], only: string[] = [], skip: string[] = []): C[] {
  const matches = (check: C, key: string) => check.id === key || check.name.toLowerCase() === key.toLowerCase();
  for (const key of [...only, ...skip]) {
    if (!all.some((check) => matches(check, key))) {
      throw new CheckSelectionError(`no check "${key}"; the checks are: ${all.map((check) => check.id).join(', ')}`);
    }
  }
  return all.filter((check) => (only.length === 0 || only.some((key) => matches(check, key))) && !skip.some((key) => matches(check, key)));
}

/** Splits "a,b, c" into ids; repeated options are concatenated by the caller. */
export function parseCheckList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((part) => part.trim()).filter((part) => part !== '')];
}

/** Which of the junk packets sent so far (`seen`: their answers) most likely killed the peer: the first closed without an answer, else the last. */
export function killer(seen: readonly string[], sentCount: number): number {
  const closed = seen.indexOf('closed');
  return closed === -1 ? sentCount - 1 : closed;
}
