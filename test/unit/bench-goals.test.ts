import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NATS_MANY_RESPONDERS } from '../../scripts/bench/config.js';
import { parseAb } from '../../scripts/bench/cold-start.js';
import { IDLE_FLOOR } from '../../scripts/bench/packet-cases.js';
import { readRun, renderReport, type BenchRun } from '../../scripts/bench/report.js';
import type { RunRecord } from '../../scripts/bench/results.js';

const withRecords = (run: BenchRun, records: RunRecord[]): BenchRun => ({ ...run, records: [...run.records.filter((r) => !records.some((n) => n.suite === r.suite)), ...records] });

/** Ours and NATS with 1,000 servers each, three rounds; `busy` cores before ours' first round. */
function manyServers(ours: number[], nats: number[], busy = 0): RunRecord[] {
  return ours.flatMap((rps, round) => [
    { suite: 'servers', case: '3 servers', round, rps: 100_000, errors: 0 },
    { suite: 'servers', case: '1000 servers', round, rps, errors: 0, busyBefore: round === 0 ? busy : 0 },
    { suite: 'servers', case: NATS_MANY_RESPONDERS, round, rps: nats[round]!, errors: 0 },
  ]);
}

const MANY_LINE = /\| packets: 1,000 servers vs NATS with 1,000 queue responders \| ([^|]+) \| ≥ 4× \| ([^|]+) \|/;

test('the 1,000-server goal compares ours with NATS at 1,000 responders, paired per round', () => {
  const met = renderReport(withRecords(readRun(), manyServers([45_000, 44_000, 46_000], [10_000, 10_000, 11_000])));
  assert.deepEqual(MANY_LINE.exec(met)?.slice(1).map((c) => c.trim()), ['4.40×', '**met**']);
  const missed = renderReport(withRecords(readRun(), manyServers([30_000, 30_000, 30_000], [10_000, 10_000, 10_000])));
  assert.deepEqual(MANY_LINE.exec(missed)?.slice(1).map((c) => c.trim()), ['3.00×', '**missed**']);
});

test('a goal whose runs started on a busy machine is noisy: neither met nor missed', () => {
  const md = renderReport(withRecords(readRun(), manyServers([30_000, 30_000, 30_000], [10_000, 10_000, 10_000], 1.2)));
  assert.match(MANY_LINE.exec(md)?.[2] ?? '', /\*\*noisy\*\*/);
});

test('idle memory is judged against the bare node:net server holding the same connections', () => {
  const idle = (name: string, bytesPerConnection: number): RunRecord => ({
    suite: 'memory-idle',
    case: name,
    round: 0,
    rps: name === IDLE_FLOOR ? 0 : 100_000,
    errors: 0,
    memory: { connections: 10_000, rssBefore: 50e6, rssIdle: 50e6 + 10_000 * bytesPerConnection, bytesPerConnection },
  });
  const line = /\| memory: bytes per idle client connection \(10,000\) vs a bare node:net server \| ([^|]+) \| ≤ 1\.15× \| ([^|]+) \|/;
  const met = line.exec(renderReport(withRecords(readRun(), [idle('policy-broker', 4_400), idle(IDLE_FLOOR, 4_000)])));
  assert.deepEqual(met?.slice(1).map((c) => c.trim()), ['1.10× (4,400 B vs 4,000 B)', '**met**']);
  const missed = line.exec(renderReport(withRecords(readRun(), [idle('policy-broker', 5_000), idle(IDLE_FLOOR, 4_000)])));
  assert.equal(missed?.[2]?.trim(), '**missed**');
});

test("ab's summary is read: rate, time, failures, non-2xx and its percentiles", () => {
  const out = `Server Software:        nginx/1.22.1
Concurrency Level:      10
Time taken for tests:   0.081 seconds
Complete requests:      500
Failed requests:        2
Non-2xx responses:      3
Keep-Alive requests:    500
Requests per second:    6172.84 [#/sec] (mean)

Percentage of the requests served within a certain time (ms)
  50%      1
  66%      1
  75%      2
  80%      2
  90%      3
  95%      4
  98%      6
  99%      9
 100%     14 (longest request)
`;
  assert.deepEqual(parseAb(out), { rps: 6172.84, tookMs: 81, failed: 2, non2xx: 3, p50Ms: 1, p90Ms: 3, p99Ms: 9, maxMs: 14 });
  assert.throws(() => parseAb('ab: invalid URL'), /Requests per second/);
});

test('cold start: both runs of each proxy in a table, and ours against nginx in the goals as information', () => {
  const run = (suite: string, name: string, rps: number, p99Ms: number): RunRecord => ({ suite, case: name, round: 0, rps, p50Ms: 1, p99Ms, errors: 0, note: 'started in 90 ms' });
  const md = renderReport(
    withRecords(readRun(), [
      run('http-cold-start', 'nginx', 9000, 4),
      run('http-cold-start', 'policy-broker', 2000, 40),
      run('http-cold-start-second', 'nginx', 9500, 3),
      run('http-cold-start-second', 'policy-broker', 6000, 8),
    ]),
  );
  assert.match(md, /### Cold start/);
  assert.match(md, /\| policy-broker \| 2,000 \| 1\.00 \/ 40\.0 \| 6,000 \| 1\.00 \/ 8\.00 \| 3\.00× \| started in 90 ms \|/);
  assert.match(md, /\| HTTP cold start: `ab -n 500 -c 10 -k` just after start, p99 vs nginx's \| 10\.00× \(40\.0 vs 4\.00 ms; 2,000 vs 9,000\/s\) \| information \|  \|/);
});
