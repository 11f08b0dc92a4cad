/**
 * The regression gate, `npm run bench -- --compare REF`: builds git ref REF in a temporary
 * worktree (sharing this checkout's node_modules), runs it side by side with the working tree
 * (the packets and HTTP suites' A/B mode: alternating rounds, `policy-broker@REF` beside
 * `policy-broker`), and fails on a loss beyond 5 % in any headline that was not measured on a
 * busy machine. The contributing notes ask for its line with every change to a hot path.
 *
 * A headline is judged on two figures of the same rounds: throughput, and the broker's CPU time
 * per answer (per request, for HTTP). On this shared 2-core machine throughput swings ±20 %
 * between rounds of identical code, while CPU per answer holds within a few percent. So a loss
 * is: CPU per answer more than 5 % higher, or throughput more than 5 % lower without CPU per
 * answer being lower too (a throughput drop with cheaper answers is the machine, not the code).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../lib/programs.js';
import { anyNoisy, pairedRatio, type RunRecord } from './results.js';

/** A loss beyond this (this build / REF below 1 − LOSS) fails the gate. */
export const ALLOWED_LOSS = 0.05;
/** The suites whose ratio is a headline (packets or requests per second through the broker), and the process group that is the broker in each. */
const HEADLINES = [
  ['packets', 'broker'],
  ['http-64', 'proxy'],
  ['http-256', 'proxy'],
  ['http-pipelined', 'proxy'],
] as const;

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
  /** Throughput, this build / REF: the median of the rounds' ratios. */
  ratio: number;
  min: number;
  max: number;
  /** The broker's CPU time per answer, this build / REF (median of the rounds' ratios); undefined when not measured. */
  cpuRatio: number | undefined;
  noisy: boolean;
  verdict: 'ok' | 'loss' | 'noisy';
  /** Why a loss is one. */
  why?: string;
}

/** The headline ratios of this build against REF's, each with its verdict. */
export function compareRatios(records: readonly RunRecord[], ref: string): CompareLine[] {
  const lines: CompareLine[] = [];
  for (const [suite, group] of HEADLINES) {
    const ratio = pairedRatio(records, suite, 'policy-broker', `policy-broker@${ref}`);
    if (ratio === undefined) continue;
    const cpuRatio = pairedRatio(records, suite, 'policy-broker', `policy-broker@${ref}`, (r) => r.cpuUsPerAnswer?.[group])?.median;
    const noisy = anyNoisy(records.filter((r) => r.suite === suite));
    const why = noisy ? undefined : lossOf(ratio.median, cpuRatio);
    lines.push({ suite, ratio: ratio.median, min: ratio.min, max: ratio.max, cpuRatio, noisy, verdict: noisy ? 'noisy' : why === undefined ? 'ok' : 'loss', why });
  }
  return lines;
}

/** Why throughput `ratio` with CPU per answer `cpuRatio` (both this build / REF) is a loss; undefined when it is not. */
export function lossOf(ratio: number, cpuRatio: number | undefined): string | undefined {
  const pct = ALLOWED_LOSS * 100;
  if (cpuRatio !== undefined && cpuRatio > 1 + ALLOWED_LOSS) return `CPU per answer more than ${pct} % higher`;
  if (ratio < 1 - ALLOWED_LOSS && (cpuRatio === undefined || cpuRatio >= 1)) return `more than ${pct} % slower, and no cheaper per answer`;
  return undefined;
}

/** One line per headline, for the terminal and for a commit message. */
export function formatCompare(lines: readonly CompareLine[], ref: string): string {
  if (lines.length === 0) return `compare vs ${ref}: no headline measured`;
  return lines
    .map((l) => {
      const cpu = l.cpuRatio === undefined ? '' : `, CPU per answer ${l.cpuRatio.toFixed(3)}×`;
      return `compare vs ${ref}: ${l.suite} ${l.ratio.toFixed(3)}× (rounds ${l.min.toFixed(3)}–${l.max.toFixed(3)})${cpu} ${l.verdict}${l.why === undefined ? '' : ` (${l.why})`}`;
    })
    .join('\n');
}
