/**
 * The liveness rules without a socket: each verdict, the max-fails window, rise and fall, and
 * that a front end's report is the only way an endpoint's state moves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANSWERED, CHECK_PASSED, CONNECTED, ERRORED, LOST, Liveness, RETRY, UNREACHABLE } from '../../../broker/routing/liveness.js';
import { Member } from '../../../broker/routing/member.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';

function setUp(backends = 2, now = { t: 0 }) {
  const table = new PolicyTable();
  const endpoints = Array.from({ length: backends }, (_, i) => {
    const member = new Member({ id: i + 1, policy: 5, host: '127.0.0.1', packetPort: 7000 + i, httpPort: 8000 + i, maxInflight: 1, session: true, tls: false, registeredAt: 0, generation: 1 });
    table.add(member);
    return member;
  });
  const liveness = new Liveness(table, { rise: 2, fall: 3, maxFails: 3, failWindowMs: 10_000 }, () => now.t);
  return { table, endpoints, liveness, now };
}

describe('Liveness', () => {
  it('a link that connects is up; lost counts a failure and moves nothing; unreachable is down; connected again is up', () => {
    const { endpoints: [a], liveness } = setUp();
    const e = a!.packets!;
    assert.equal(liveness.report(e, CONNECTED), 'up');
    assert.equal(liveness.report(e, CONNECTED), undefined);
    assert.equal(liveness.report(e, LOST), undefined);
    assert.equal(e.failures, 1);
    assert.equal(e.state, 'up');
    assert.equal(liveness.report(e, UNREACHABLE), 'down');
    assert.equal(liveness.report(e, CONNECTED), 'up');
  });

  it('failed requests take an endpoint out after maxFails in a row within the window; an answer starts the count again', () => {
    const { endpoints: [a], liveness, now } = setUp();
    const e = a!.http!;
    const fail = { kind: 'failed', reason: 'reset' } as const;
    liveness.report(e, fail);
    liveness.report(e, fail);
    liveness.report(e, ANSWERED);
    liveness.report(e, fail);
    now.t += 10_001;
    liveness.report(e, fail);
    liveness.report(e, fail);
    assert.equal(e.state, 'up', 'the answer brought it up; two failures in the new window do not take it out');
    assert.equal(liveness.report(e, fail), 'down');
    assert.equal(e.failures, 6);
    assert.equal(e.lastError, 'reset');
    assert.equal(liveness.report(e, RETRY), 'connecting');
  });

  it('an overload never takes out the last live endpoint of its policy', () => {
    const { endpoints: [a, b], liveness } = setUp();
    const overload = { kind: 'failed', reason: 'closed a new connection', overload: true } as const;
    for (let i = 0; i < 3; i++) liveness.report(a!.http!, overload);
    assert.equal(a!.http!.state, 'down');
    for (let i = 0; i < 10; i++) liveness.report(b!.http!, overload);
    assert.equal(b!.http!.state, 'connecting');
  });

  it('checks: up at once from connecting, back from down after rise passes, down after fall failures; errored only counts', () => {
    const { endpoints: [a], liveness } = setUp();
    const e = a!.http!;
    assert.equal(liveness.report(e, CHECK_PASSED), 'up');
    for (let i = 0; i < 2; i++) assert.equal(liveness.report(e, { kind: 'check-failed', reason: '500' }), undefined);
    assert.equal(liveness.report(e, { kind: 'check-failed', reason: '500' }), 'down');
    assert.equal(liveness.report(e, CHECK_PASSED), undefined);
    assert.equal(liveness.report(e, CHECK_PASSED), 'up');
    liveness.report(e, ERRORED);
    assert.equal(e.state, 'up');
    assert.equal(e.failures, 4);
  });

  it('takes another process\'s observation as it is, and the table follows', () => {
    const { table, endpoints: [a], liveness } = setUp(1);
    const seen: string[] = [];
    table.observe({ stateChanged: (e) => seen.push(e.state) });
    liveness.observedElsewhere(a!.packets!, 'down');
    assert.equal(a!.packets!.state, 'down');
    assert.equal(table.live(a!.packets!.policy, 'packets'), 0);
    liveness.observedElsewhere(a!.packets!, 'down');
    liveness.observedElsewhere(a!.packets!, 'up');
    assert.deepEqual(seen, ['down', 'up']);
  });

  it('the state of an endpoint in a table cannot be assigned from outside routing/', () => {
    const { endpoints: [a] } = setUp();
    assert.throws(() => {
      a!.packets!.state = 'down';
    }, /routing/);
  });
});
