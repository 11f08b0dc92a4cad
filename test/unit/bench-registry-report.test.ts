import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REGISTRY_CASES, REGISTRY_SUITES } from '../../scripts/bench/config.js';
import { readRun, renderReport, type BenchRun } from '../../scripts/bench/report.js';
import type { RunRecord } from '../../scripts/bench/results.js';

const GOAL_LINE = 'registry: packets with --registry redis vs in memory';

/** The registry suite's records: in-memory and Redis rates per round, then the other two measures. */
function registryRecords(memory: number[], redis: number[]): RunRecord[] {
  const records: RunRecord[] = [];
  memory.forEach((rps, round) => {
    records.push({ suite: REGISTRY_SUITES.oneBroker, case: REGISTRY_CASES.memory, round, rps, errors: 0 });
    records.push({ suite: REGISTRY_SUITES.oneBroker, case: REGISTRY_CASES.redis, round, rps: redis[round]!, errors: 0 });
    records.push({ suite: REGISTRY_SUITES.twoBrokers, case: REGISTRY_CASES.one, round, rps: 40_000, errors: 0 });
    records.push({ suite: REGISTRY_SUITES.twoBrokers, case: REGISTRY_CASES.two, round, rps: 60_000, errors: 0 });
  });
  records.push({ suite: REGISTRY_SUITES.churn, case: REGISTRY_CASES.churn, round: 0, rps: 5_000, p50Ms: 3.5, p99Ms: 42, answered: 2_000, errors: 0 });
  return records;
}

const withRecords = (run: BenchRun, records: RunRecord[]): BenchRun => ({ ...run, records: [...run.records, ...records] });

/** docs/benchmarks.json's run without any registry record (it may hold some, once a full run includes the suite). */
const withoutRegistry = (): BenchRun => {
  const run = readRun();
  const registrySuites: string[] = Object.values(REGISTRY_SUITES);
  return { ...run, records: run.records.filter((r) => !registrySuites.includes(r.suite)) };
};

test('a run recorded before the registry suite existed renders without its goal or section', () => {
  const md = renderReport(withoutRegistry());
  assert.ok(!md.includes(GOAL_LINE));
  assert.ok(!md.includes('## Shared registry'));
});

test('the registry goal is met at 0.95x or more, per-round ratios, and the other measures are shown', () => {
  const md = renderReport(withRecords(withoutRegistry(), registryRecords([40_000, 50_000, 45_000], [39_000, 48_000, 44_000])));
  assert.match(md, /\| registry: packets with --registry redis vs in memory \| 0\.97× \| ≥ 0\.95× \| \*\*met\*\* \|/);
  assert.match(md, /\| two brokers, a client each \| 60,000 \| 60,000–60,000 \| 1\.50× \|/);
  assert.match(md, /\| 5,000 \| 3\.50 ms \| 42\.0 ms \|/);
});

test('the registry goal is missed below 0.95x', () => {
  const md = renderReport(withRecords(withoutRegistry(), registryRecords([40_000, 40_000, 40_000], [36_000, 37_000, 35_000])));
  assert.match(md, /\| registry: packets with --registry redis vs in memory \| 0\.90× \| ≥ 0\.95× \| \*\*missed\*\* \|/);
});

test('the failover case: packets/s with and without the kill, errors, the registration\'s wait and the promotion', () => {
  const failover: RunRecord[] = [
    { suite: REGISTRY_SUITES.failover, case: REGISTRY_CASES.steady, round: 0, rps: 20_000, errors: 0, answered: 160_000, p99Ms: 2, maxMs: 9, registrationMs: 180, note: 'lost 0' },
    { suite: REGISTRY_SUITES.failover, case: REGISTRY_CASES.killed, round: 0, rps: 19_000, errors: 0, answered: 152_000, p99Ms: 3, maxMs: 40, registrationMs: 2_600, failoverMs: 2_400, note: 'lost 0' },
  ];
  const md = renderReport(withRecords(withoutRegistry(), failover));
  assert.match(md, /## Shared registry/);
  assert.match(md, /\| Sentinel, no kill \| 20,000 \| 1\.00× \| 0 \| .* \| 180 ms \| – \|/);
  assert.match(md, /\| Sentinel, primary SIGKILLed \| 19,000 \| 0\.95× \| 0 \| .* \| 2,600 ms \| 2,400 ms \|/);
});
