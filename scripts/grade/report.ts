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
}

const CSV_HEADER = ['name', 'kind', 'target', 'score', 'max', 'passed', 'failed_checks', 'error'];

/** The class as CSV: one line per submission, the failed checks named, RFC 4180 quoting. */
export function batchCsv(entries: BatchEntry[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const entry of entries) {
    const grade = entry.grade;
    const failed = grade?.checks.filter((check) => !check.passed).map((check) => check.name) ?? [];
    const passed = grade !== undefined && failed.length === 0;
    lines.push(
      [entry.name, entry.kind, grade?.target ?? '', grade?.score ?? 0, grade?.max ?? '', passed ? 'yes' : 'no', failed.join('; '), entry.error ?? '']
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

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
