/**
 * The regression gate, `npm run bench -- --compare REF`: builds git ref REF in a temporary
 * worktree (sharing this checkout's node_modules), runs it side by side with the working tree
 * (the packets and HTTP suites' A/B mode: alternating rounds, `policy-broker@REF` beside
 * `policy-broker`), and fails on a loss beyond 5 % in any headline ratio that was not measured
 * on a busy machine. The contributing notes ask for its line with every change to a hot path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../lib/programs.js';
import { anyNoisy, pairedRatio, type RunRecord } from './results.js';

/** A loss beyond this (this build / REF below 1 − LOSS) fails the gate. */
export const ALLOWED_LOSS = 0.05;
/** The suites and cases whose ratio is a headline: requests or packets per second through the broker. */
const HEADLINES = ['packets', 'http-64', 'http-256', 'http-pipelined'] as const;

export interface BuiltRef {
  name: string;
  dist: string;
  remove(): void;
}

/** Checks REF out in a temporary worktree and builds it; throws with the build's output on failure. */
export function buildRef(ref: string, log: (line: string) => void): BuiltRef {
  const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-compare-'));
  const run = (command: string, args: string[], cwd: string): void => {
    const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`.slice(-3000));
  };
  const remove = (): void => {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: REPO_ROOT });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    log(`  compare: building ${ref} in ${dir}`);
    run('git', ['worktree', 'add', '--detach', dir, ref], REPO_ROOT);
    // Its own package versions may differ; the same node_modules is what makes the build quick, and the difference is named in the output.
    if (!existsSync(path.join(dir, 'node_modules'))) symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    run('npm', ['run', '--silent', 'build'], dir);
    return { name: ref, dist: path.join(dir, 'dist'), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

export interface CompareLine {
  suite: string;
  /** This build / REF, the median of the rounds' ratios. */
  ratio: number;
  min: number;
  max: number;
  noisy: boolean;
  verdict: 'ok' | 'loss' | 'noisy';
}

/** The headline ratios of this build against REF's, each with its verdict. */
export function compareRatios(records: readonly RunRecord[], ref: string): CompareLine[] {
  const lines: CompareLine[] = [];
  for (const suite of HEADLINES) {
    const ratio = pairedRatio(records, suite, 'policy-broker', `policy-broker@${ref}`);
    if (ratio === undefined) continue;
    const noisy = anyNoisy(records.filter((r) => r.suite === suite));
    const verdict = noisy ? 'noisy' : ratio.median < 1 - ALLOWED_LOSS ? 'loss' : 'ok';
    lines.push({ suite, ratio: ratio.median, min: ratio.min, max: ratio.max, noisy, verdict });
  }
  return lines;
}

/** One line per headline, for the terminal and for a commit message. */
export function formatCompare(lines: readonly CompareLine[], ref: string): string {
  if (lines.length === 0) return `compare vs ${ref}: no headline measured`;
  return lines
    .map((l) => `compare vs ${ref}: ${l.suite} ${l.ratio.toFixed(3)}× (rounds ${l.min.toFixed(3)}–${l.max.toFixed(3)}) ${l.verdict}${l.verdict === 'loss' ? ` (more than ${ALLOWED_LOSS * 100} % slower)` : ''}`)
    .join('\n');
}
