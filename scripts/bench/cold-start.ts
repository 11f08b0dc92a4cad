/**
 * Cold start (issue 26): the assignment's `ab -n 500 -c 10 -k` against a proxy started just
 * before, beside nginx started the same way. A Node process pays for its first requests (the
 * code is interpreted before it is compiled, modules load lazily, the upstream pool dials its
 * backends) where nginx pays nothing: the same ab run once more, right after, shows what the
 * first 500 requests cost beyond steady state. Each round starts every proxy afresh.
 */
import { QUIET_CORES, QUIET_WAIT_MS, type Log } from './packet-cases.js';
import { runChild, waitForQuiet, type Child } from './processes.js';
import type { RunRecord } from './results.js';

/** The assignment's command, exactly. */
export const COLD_REQUESTS = 500;
export const COLD_CONCURRENCY = 10;
export const COLD_SUITES = { cold: 'http-cold-start', warm: 'http-cold-start-second' } as const;

export interface ColdTarget {
  name: string;
  /** Starts the proxy afresh; resolves once its port accepts connections. */
  start(): Promise<{ child: Child; port: number; startedMs: number }>;
}

/** What ab printed, as numbers. */
export interface AbFigures {
  rps: number;
  tookMs: number;
  failed: number;
  non2xx: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Reads ab's summary (its percentile table is in whole milliseconds). */
export function parseAb(out: string): AbFigures {
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (m === null) throw new Error(`ab output without ${re.source}: ${out.slice(-400)}`);
    return Number(m[1]);
  };
  const optional = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  return {
    rps: num(/Requests per second:\s+([\d.]+)/),
    tookMs: num(/Time taken for tests:\s+([\d.]+) seconds/) * 1000,
    failed: num(/Failed requests:\s+(\d+)/),
    non2xx: optional(/Non-2xx responses:\s+(\d+)/),
    p50Ms: num(/^\s*50%\s+(\d+)/m),
    p90Ms: num(/^\s*90%\s+(\d+)/m),
    p99Ms: num(/^\s*99%\s+(\d+)/m),
    maxMs: num(/^\s*100%\s+(\d+)/m),
  };
}

async function runAb(port: number): Promise<AbFigures & { command: string }> {
  const args = ['-q', '-n', String(COLD_REQUESTS), '-c', String(COLD_CONCURRENCY), '-k', '-s', '10', `http://127.0.0.1:${port}/`];
  const { code, stdout, stderr } = await runChild('ab', args, 60_000);
  if (code !== 0) throw new Error(`ab failed (exit ${code}): ${stderr.slice(-400)}`);
  return { ...parseAb(stdout), command: `ab ${args.join(' ').replace(String(port), 'PORT')}` };
}

/** Every target once per round, fresh each time: the first ab run (cold) and the one right after. */
export async function coldStartSuite(targets: readonly ColdTarget[], rounds: number, log: Log): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < targets.length; k++) {
      const target = targets[(k + round) % targets.length]!;
      const busyBefore = await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS);
      const { child, port, startedMs } = await target.start();
      try {
        for (const [suite, label] of [[COLD_SUITES.cold, 'first'], [COLD_SUITES.warm, 'second']] as const) {
          const ab = await runAb(port);
          records.push({
            suite,
            case: target.name,
            round,
            rps: ab.rps,
            p50Ms: ab.p50Ms,
            p90Ms: ab.p90Ms,
            p99Ms: ab.p99Ms,
            maxMs: ab.maxMs,
            errors: ab.failed + ab.non2xx,
            answered: COLD_REQUESTS,
            windowMs: ab.tookMs,
            busyBefore,
            command: ab.command,
            note: `started in ${Math.round(startedMs)} ms`,
          });
          log(`  cold start round ${round + 1}/${rounds} ${target.name} (${label} ab): ${Math.round(ab.rps)}/s in ${Math.round(ab.tookMs)} ms, p99 ${ab.p99Ms} ms, max ${ab.maxMs} ms, errors ${ab.failed + ab.non2xx}; started in ${Math.round(startedMs)} ms`);
        }
      } finally {
        await child.stop('SIGTERM');
      }
    }
  }
  return records;
}
