import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRatios, formatCompare, lossOf } from '../../scripts/bench/compare.js';
import type { RunRecord } from '../../scripts/bench/results.js';

const run = (name: string, round: number, rps: number, brokerUs: number, busyBefore = 0): RunRecord => ({
  suite: 'packets',
  case: name,
  round,
  rps,
  errors: 0,
  cpuUsPerAnswer: { broker: brokerUs, servers: 10 },
  busyBefore,
});

test('a loss is higher CPU per answer, or lower throughput without cheaper answers', () => {
  assert.equal(lossOf(1.0, 1.0), undefined);
  assert.equal(lossOf(0.9, 0.97), undefined, 'slower rounds with cheaper answers are the machine');
  assert.match(lossOf(0.9, 1.0) ?? '', /slower/);
  assert.match(lossOf(1.1, 1.08) ?? '', /CPU per answer/);
  assert.match(lossOf(0.9, undefined) ?? '', /slower/);
  assert.equal(lossOf(0.97, undefined), undefined);
});

test('compareRatios pairs the rounds and reads the broker group of each suite', () => {
  const records = [
    run('policy-broker', 1, 40_000, 15),
    run('policy-broker@main', 1, 50_000, 16),
    run('policy-broker', 2, 45_000, 15),
    run('policy-broker@main', 2, 40_000, 16),
    run('policy-broker', 3, 30_000, 15.5),
    run('policy-broker@main', 3, 36_000, 16),
  ];
  const [line] = compareRatios(records, 'main');
  assert.equal(line!.suite, 'packets');
  assert.equal(line!.ratio, 30_000 / 36_000);
  assert.equal(line!.cpuRatio, 15 / 16);
  assert.equal(line!.verdict, 'ok');
  assert.match(formatCompare([line!], 'main'), /packets 0\.833× .*CPU per answer 0\.938× ok/);

  const dearer = records.map((r) => (r.case === 'policy-broker' ? { ...r, cpuUsPerAnswer: { broker: 18 } } : r));
  assert.equal(compareRatios(dearer, 'main')[0]!.verdict, 'loss');
  const busy = dearer.map((r) => ({ ...r, busyBefore: 0.9 }));
  assert.equal(compareRatios(busy, 'main')[0]!.verdict, 'noisy');
});
