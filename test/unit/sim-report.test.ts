import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadSummary } from '../../client/summary.js';
import { lossEventsOf, parseLog, parseManifest, summaryFrom } from '../../scripts/lib/manifest.js';
import { multihostReport, type MultihostInput } from '../../scripts/lib/multihost-report.js';
import { formatSimulationReport, simulationReport, type SimulationInput } from '../../scripts/lib/sim-report.js';

function summary(byServer: Record<string, number>, extra: Partial<LoadSummary> = {}): LoadSummary {
  const replies = Object.values(byServer).reduce((a, b) => a + b, 0);
  return {
    sent: replies,
    answered: replies,
    lost: 0,
    errors: {},
    byServer,
    verified: replies,
    verifyFailed: 0,
    rps: 100,
    p50Ms: 1,
    p99Ms: 3,
    maxMs: 4,
    durationMs: 1000,
    resubmitted: 0, silentBrokers: 0,
    ...extra,
  };
}

function lab(clients: SimulationInput['clients']): SimulationInput {
  return { algorithm: 'round-robin', policies: [{ policy: 111, servers: [100, 300] }, { policy: 222, servers: [200, 400] }], clients };
}

test('a clean run adds up per policy and server and is ok', () => {
  const report = simulationReport(
    lab([
      { srcid: 1, policy: 111, exitCode: 0, summary: summary({ 100: 5, 300: 5 }, { p50Ms: 1, p99Ms: 2 }) },
      { srcid: 2, policy: 111, exitCode: 0, summary: summary({ 100: 5, 300: 5 }, { p50Ms: 3, p99Ms: 9 }) },
      { srcid: 3, policy: 222, exitCode: 0, summary: summary({ 200: 3, 400: 2 }) },
    ]),
  );
  assert.equal(report.ok, true, report.problems.join('; '));
  assert.deepEqual(report.totals, { clients: 3, sent: 25, answered: 25, lost: 0, errors: {}, verified: 25, verifyFailed: 0 });
  const p111 = report.policies[0]!;
  assert.deepEqual(p111.servers, [
    { id: 100, served: 10, share: 0.5, killed: false },
    { id: 300, served: 10, share: 0.5, killed: false },
  ]);
  assert.equal(p111.p50Ms, 2, 'median of the clients p50');
  assert.equal(p111.p99Ms, 9, 'worst client p99');
  assert.match(formatSimulationReport(report), /result: OK/);
});

test('loss, error answers, failed verification, a missing summary and a cross-policy reply each fail the run', () => {
  const cases: Array<[SimulationInput['clients'][number], RegExp]> = [
    [{ srcid: 1, policy: 111, exitCode: 1, summary: summary({ 100: 4 }, { sent: 5, lost: 1, errors: { TIMEOUT_LOCAL: 1 } }) }, /1 packets lost/],
    [{ srcid: 1, policy: 111, exitCode: 0, summary: summary({ 100: 4 }, { sent: 5, answered: 5, errors: { NO_SERVER: 1 } }) }, /error answers: NO_SERVER 1/],
    [{ srcid: 1, policy: 111, exitCode: 1, summary: summary({ 100: 4 }, { verified: 3, verifyFailed: 1 }) }, /1 replies failed SHA-1/],
    [{ srcid: 1, policy: 111, exitCode: 1, summary: undefined }, /printed no summary/],
    [{ srcid: 1, policy: 111, exitCode: 0, summary: summary({ 100: 4, 200: 1 }) }, /answered by server 200 of another policy/],
  ];
  for (const [client, problem] of cases) {
    const report = simulationReport(lab([client]));
    assert.equal(report.ok, false, problem.source);
    assert.ok(report.problems.some((p) => problem.test(p)), `${problem.source}: ${report.problems.join('; ')}`);
    assert.match(formatSimulationReport(report), /result: FAILED/);
  }
});

test('failover is observed only when the killed server served and another took over', () => {
  const kill = { id: 100, afterMs: 2000, brokerEvents: ['server connection lost (ECONNRESET)'] };
  const observed = simulationReport({ ...lab([{ srcid: 1, policy: 111, exitCode: 0, summary: summary({ 100: 10, 300: 30 }) }]), kill });
  assert.equal(observed.ok, true);
  assert.deepEqual(observed.failover, { id: 100, policy: 111, afterMs: 2000, killedServed: 10, survivors: { 300: 30 }, observed: true, brokerEvents: kill.brokerEvents });
  assert.match(formatSimulationReport(observed), /100 \(killed\)/);

  const tooEarly = simulationReport({ ...lab([{ srcid: 1, policy: 111, exitCode: 0, summary: summary({ 300: 30 }) }]), kill });
  assert.equal(tooEarly.ok, false);
  assert.match(tooEarly.problems.join(), /served nothing before it was killed/);
});

test('the client summary line, the manifest and the broker log are read leniently', () => {
  const stdout = 'progress\n{"sent":2,"answered":2,"lost":0,"errors":{},"byServer":{"100":2},"verified":2,"verifyFailed":0,"rps":1,"p50Ms":1,"p99Ms":1,"maxMs":1,"durationMs":1}\n\n';
  const log = '{"message":"server up","id":100}\nnot json\n{"message":"server connection lost","id":100,"reason":"ECONNRESET"}\n{"message":"server removed","id":300}\n';
  assert.equal(summaryFrom(stdout)?.sent, 2);
  assert.equal(summaryFrom('{"sent":1}'), undefined, 'not a summary');
  assert.equal(summaryFrom(''), undefined);
  assert.deepEqual(parseManifest('# comment\nmeta\talgorithm\trandom\r\n\npolicy\t111\t100,300\n'), [['meta', 'algorithm', 'random'], ['policy', '111', '100,300']]);
  assert.deepEqual(lossEventsOf(parseLog(log), 100), ['server connection lost (ECONNRESET)']);
  assert.deepEqual(lossEventsOf(parseLog(log), 300), ['server removed']);
});

test('the multihost report checks addresses, the phases and the failover', () => {
  const brokerLog = [
    { message: 'broker listening', address: '10.203.0.1:2100' },
    { message: 'server registered', id: 100, address: '10.203.0.11:7100' },
    { message: 'server registered', id: 300, address: '10.203.0.12:7100' },
    { message: 'server missed its heartbeats', id: 100 },
  ];
  const input: MultihostInput = {
    hosts: { broker: '10.203.0.1', srv1: '10.203.0.11', srv2: '10.203.0.12', client: '10.203.0.100' },
    servers: [
      { id: 100, policy: 111, host: 'srv1' },
      { id: 300, policy: 111, host: 'srv2' },
    ],
    cut: { host: 'srv1', afterMs: 2000 },
    phases: {
      before: [{ policy: 111, exitCode: 0, summary: summary({ 100: 20, 300: 20 }) }],
      during: [{ policy: 111, exitCode: 0, summary: summary({ 100: 50, 300: 150 }) }],
      after: [{ policy: 111, exitCode: 0, summary: summary({ 300: 40 }) }],
    },
    brokerLog,
  };
  const good = multihostReport(input);
  assert.equal(good.ok, true, good.problems.join('; '));
  assert.equal(good.failover, true);
  assert.deepEqual(good.registered, { 100: '10.203.0.11:7100', 300: '10.203.0.12:7100' });
  assert.deepEqual(good.cut.brokerEvents, { 100: ['server missed its heartbeats'] });

  const wrongAddress = multihostReport({ ...input, brokerLog: brokerLog.map((e) => (e.id === 300 ? { ...e, address: '127.0.0.1:7100' } : e)) });
  assert.match(wrongAddress.problems.join(), /registered it at 127\.0\.0\.1:7100/);

  const stillServed = multihostReport({ ...input, phases: { ...input.phases, after: [{ policy: 111, exitCode: 0, summary: summary({ 100: 1, 300: 39 }) }] } });
  assert.equal(stillServed.failover, false);
  assert.match(stillServed.problems.join(), /on the cut host still served 1/);

  const lost = multihostReport({ ...input, phases: { ...input.phases, during: [{ policy: 111, exitCode: 1, summary: summary({ 300: 10 }, { sent: 12, lost: 2 }) }] } });
  assert.equal(lost.ok, false);
  assert.equal(lost.failover, false);
});
