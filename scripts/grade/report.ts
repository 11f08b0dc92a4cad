/**
 * Grades as text: the table a person reads, the CSV of a class. Pure functions of the grades.
 */
import { textTable } from '../lib/text-table.js';
import type { Grade } from './check.js';

/** The checks as a table, then the score line. */
export function formatGrade(grade: Grade): string {
  const rows = grade.checks.map((check) => [check.passed ? 'pass' : 'FAIL', `${check.points}/${check.max}`, check.name, check.detail]);
  const table = textTable(['result', 'points', 'check', 'detail'], rows);
  const failed = grade.checks.filter((check) => !check.passed).length;
  const verdict = failed === 0 ? 'every check passed' : `${failed} of ${grade.checks.length} checks failed`;
  return `${grade.kind} at ${grade.target}\n${table}\nscore ${grade.score}/${grade.max}: ${verdict}\n`;
}

/** One graded submission of a batch; `error` when it could not be graded at all. */
export interface BatchEntry {
  name: string;
  kind: string;
  grade?: Grade;
  error?: string;
  /** How long the submission took to grade (start, checks, stop), in ms. */
  durationMs?: number;
  /** The last of what the submission printed (bounded), if anything. */
  output?: string;
}

const CSV_HEAD = ['name', 'kind', 'target', 'score', 'max', 'passed', 'duration_s', 'failed_checks'];
const CSV_TAIL = ['feedback', 'error'];

/**
 * The columns of the checks, one per check that any submission ran, in the order first met:
 * the check's id, or kind/id when the batch mixes kinds (ids such as "malformed" recur).
 */
function checkColumns(entries: BatchEntry[]): Array<{ kind: string; id: string; title: string }> {
  const kinds = new Set(entries.filter((entry) => entry.grade !== undefined).map((entry) => entry.kind));
  const columns = new Map<string, { kind: string; id: string; title: string }>();
  for (const entry of entries) {
    for (const check of entry.grade?.checks ?? []) {
      const key = `${entry.kind}/${check.id}`;
      if (!columns.has(key)) columns.set(key, { kind: entry.kind, id: check.id, title: kinds.size > 1 ? key : check.id });
    }
  }
  return [...columns.values()];
}

/** The feedback of a grade: every failed check with its detail. */
export function feedbackOf(grade: Grade): string {
  return grade.checks
    .filter((check) => !check.passed)
    .map((check) => `${check.name}: ${check.detail}`)
    .join(' | ');
}

/**
 * The class as CSV, for a gradebook: one line per submission, its points per check (one
 * column each; empty where a check was not run), the failed checks' feedback, RFC 4180 quoting.
 */
export function batchCsv(entries: BatchEntry[]): string {
  const columns = checkColumns(entries);
  const lines = [[...CSV_HEAD, ...columns.map((column) => column.title), ...CSV_TAIL].map(csvField).join(',')];
  for (const entry of entries) {
    const grade = entry.grade;
    const failed = grade?.checks.filter((check) => !check.passed).map((check) => check.name) ?? [];
    const passed = grade !== undefined && failed.length === 0;
    const points = columns.map((column) => (column.kind === entry.kind ? (grade?.checks.find((check) => check.id === column.id)?.points ?? '') : ''));
    const duration = entry.durationMs === undefined ? '' : (entry.durationMs / 1000).toFixed(1);
    lines.push(
      [entry.name, entry.kind, grade?.target ?? '', grade?.score ?? 0, grade?.max ?? '', passed ? 'yes' : 'no', duration, failed.join('; '), ...points, grade === undefined ? '' : feedbackOf(grade), entry.error ?? '']
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** The class as a table for the terminal. */
export function formatBatch(entries: BatchEntry[]): string {
  const rows = entries.map((entry) => [
    entry.name,
    entry.kind,
    entry.grade === undefined ? '-' : `${entry.grade.score}/${entry.grade.max}`,
    entry.error ?? (entry.grade?.checks.filter((check) => !check.passed).map((check) => check.name).join(', ') || 'all passed'),
  ]);
  return textTable(['submission', 'kind', 'score', 'failed'], rows) + '\n';
}

/**
 * One CSV field. Text that a spreadsheet would read as a formula (=, +, -, @, or a tab or CR
 * first: OWASP's "CSV injection") gets a leading apostrophe: names, feedback and captured output
 * come from students' submissions.
 */
function csvField(value: string | number): string {
  const text = typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
