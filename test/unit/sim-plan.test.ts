import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientPolicies, parseTime, resolveSimulationOptions, serverIds, SimulationOptionError } from '../../scripts/lib/sim-plan.js';

test('defaults are the classic lab; the chaos variant brings its delay and duration', () => {
  const plain = resolveSimulationOptions({});
  assert.deepEqual([plain.policies, plain.serversPerPolicy, plain.clients, plain.packets, plain.delayMs, plain.durationS], [[111, 222], 2, 15, 100, 0, undefined]);
  const chaos = resolveSimulationOptions({ killAfterMs: '2s' });
  assert.deepEqual([chaos.killAfterMs, chaos.delayMs, chaos.durationS], [2000, 5, 6]);
  assert.equal(resolveSimulationOptions({ killAfterMs: '1500ms', durationS: '3', delayMs: '0' }).durationS, 3);
});

test('each bad option is named', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ clients: 'many' }, /--clients/],
    [{ clients: '0' }, /--clients/],
    [{ policies: '111,,222' }, /--policies/],
    [{ policies: '111,111' }, /listed twice/],
    [{ algorithm: 'fastest' }, /--algorithm/],
    [{ durationS: '0' }, /--duration/],
    [{ killAfterMs: 'soon' }, /--kill-one-server-after/],
    [{ killAfterMs: '50ms' }, /at least 100ms/],
    [{ killAfterMs: '1s', serversPerPolicy: '1' }, /--servers-per-policy 2/],
    [{ killServer: '100' }, /--kill-server needs/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => resolveSimulationOptions(raw), (err: unknown) => err instanceof SimulationOptionError && message.test(err.message), JSON.stringify(raw));
  }
});

test('times, server ids and seeded client policies', () => {
  assert.deepEqual(['2s', '1.5s', '1500ms', '2', '0.25'].map(parseTime), [2000, 1500, 1500, 2000, 250]);
  assert.equal(parseTime('2 s'), undefined);
  assert.deepEqual([...serverIds([111, 222], 2)], [[111, [100, 300]], [222, [200, 400]]]);
  assert.deepEqual([...serverIds([111], 3)], [[111, [100, 200, 300]]]);
  const a = clientPolicies(50, [111, 222], 7);
  assert.deepEqual(a, clientPolicies(50, [111, 222], 7), 'same seed, same policies');
  assert.deepEqual(new Set(a), new Set([111, 222]));
});
