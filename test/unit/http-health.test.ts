import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthMonitor, healthProbe } from '../../broker/http/health.js';
import { classify } from '../../broker/http/upstream-failure.js';
import { Member } from '../../broker/routing/member.js';
import { PolicyTable } from '../../broker/routing/policy-table.js';
import { silentLogger } from '../../broker/support/logger.js';

describe('healthProbe', () => {
  it('without --health-path: asks for / and passes any status below 500 (a stock nginx site)', () => {
    const probe = healthProbe(undefined);
    assert.equal(probe.path, '/');
    for (const status of [200, 301, 403, 404]) assert.equal(probe.passes(status), true, String(status));
    for (const status of [500, 502, 503]) assert.equal(probe.passes(status), false, String(status));
  });

  it('with --health-path: asks for it and passes 2xx and 3xx only', () => {
    const probe = healthProbe('/health');
    assert.equal(probe.path, '/health');
    for (const status of [200, 204, 302]) assert.equal(probe.passes(status), true, String(status));
    for (const status of [403, 404, 500]) assert.equal(probe.passes(status), false, String(status));
  });

  it('a 404 on a set path names the flag to change', () => {
    assert.match(healthProbe('/health').explain(404), /--health-path/);
    assert.doesNotMatch(healthProbe('/health').explain(500), /--health-path/);
  });
});

describe('passive health (--max-fails within --fail-timeout)', () => {
  const settings = { path: undefined, intervalMs: 0, timeoutMs: 1000, rise: 2, fall: 3, maxFails: 3, failTimeoutMs: 10_000, authorization: undefined };
  const setup = (backends: number) => {
    const table = new PolicyTable();
    const endpoints = Array.from({ length: backends }, (_, i) => {
      const member = new Member({ id: undefined, policy: 5, host: '127.0.0.1', packetPort: undefined, httpPort: 8000 + i, maxInflight: 1, session: false, tls: false, registeredAt: 0, generation: 0 });
      table.add(member);
      return member.http!;
    });
    const health = new HealthMonitor(table, settings, silentLogger());
    return { endpoints, health, stop: () => health.stop() };
  };

  it('takes a backend out after --max-fails failures in a row, not before; an answer between them starts the count again', async () => {
    const { endpoints: [a], health, stop } = setup(2);
    health.passiveFailure(a!, 'reset');
    health.passiveFailure(a!, 'reset');
    health.answered(a!);
    health.passiveFailure(a!, 'reset');
    health.passiveFailure(a!, 'reset');
    assert.notEqual(a!.state, 'down');
    health.passiveFailure(a!, 'reset');
    assert.equal(a!.state, 'down');
    assert.equal(a!.failures, 5);
    await stop();
  });

  it('counts only failures within --fail-timeout of the first', async (t) => {
    t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 0 });
    const { endpoints: [a], health, stop } = setup(2);
    health.passiveFailure(a!, 'reset');
    health.passiveFailure(a!, 'reset');
    t.mock.timers.tick(10_001);
    health.passiveFailure(a!, 'reset');
    health.passiveFailure(a!, 'reset');
    assert.notEqual(a!.state, 'down');
    health.passiveFailure(a!, 'reset');
    assert.equal(a!.state, 'down');
    await stop();
  });

  it('connection-limit failures never take out the last live backend of a policy; real failures do', async () => {
    const { endpoints: [a, b], health, stop } = setup(2);
    for (let i = 0; i < 3; i++) health.passiveFailure(a!, 'closed a new connection', 'overload');
    assert.equal(a!.state, 'down');
    for (let i = 0; i < 10; i++) health.passiveFailure(b!, 'closed a new connection', 'overload');
    assert.notEqual(b!.state, 'down');
    for (let i = 0; i < 3; i++) health.passiveFailure(b!, 'refused', 'failure');
    assert.equal(b!.state, 'down');
    await stop();
  });
});

describe('classify: what a failure says of the backend', () => {
  const timeouts = { upstreamTimeoutMs: 1000, upstreamConnectTimeoutMs: 1000 };
  const error = (code: string, socket?: { bytesRead: number }) => Object.assign(new Error(code), { code }, socket === undefined ? {} : { socket });

  it('a closed connection that had read bytes before is a stale keep-alive one: not counted, resendable', () => {
    const failure = classify(error('UND_ERR_SOCKET', { bytesRead: 180 }), undefined, timeouts);
    assert.equal(failure.verdict, 'stale');
    assert.equal(failure.passive, true);
  });

  it('a new connection closed without a byte looks like the backend\'s connection limit', () => {
    assert.equal(classify(error('UND_ERR_SOCKET', { bytesRead: 0 }), undefined, timeouts).verdict, 'overload');
  });

  it('a reset with no socket figures, a refusal and a timeout are failures; EMFILE is the broker\'s limit and was never sent', () => {
    assert.equal(classify(error('ECONNRESET'), undefined, timeouts).verdict, 'failure');
    assert.equal(classify(error('ECONNREFUSED'), undefined, timeouts).verdict, 'failure');
    assert.equal(classify(error('UND_ERR_HEADERS_TIMEOUT'), undefined, timeouts).verdict, 'failure');
    const emfile = classify(error('EMFILE'), undefined, timeouts);
    assert.deepEqual([emfile.verdict, emfile.unsent], ['overload', true]);
  });
});
