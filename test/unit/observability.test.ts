import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATENCY_BOUNDS_MS, LatencyHistogram } from '../../broker/support/latency-histogram.js';
import { RecentErrors } from '../../broker/support/recent-errors.js';
import { countFailure, countServed } from '../../broker/routing/endpoint-writes.js';
import { Member } from '../../broker/routing/member.js';
import { Counters } from '../../broker/routing/counters.js';

describe('LatencyHistogram', () => {
  it('puts each observation in the first bucket whose bound it does not exceed', () => {
    const h = new LatencyHistogram();
    for (const ms of [0, 0.1, 0.11, 1, 7, 10_000, 10_001, 99_999]) h.observe(ms);
    assert.equal(h.count, 8);
    assert.equal(h.counts[0], 2); // 0 and 0.1 (le 0.1)
    assert.equal(h.counts[1], 1); // 0.11 (le 0.25)
    assert.equal(h.counts[LATENCY_BOUNDS_MS.indexOf(1)], 1);
    assert.equal(h.counts[LATENCY_BOUNDS_MS.indexOf(10)], 1); // 7
    assert.equal(h.counts[LATENCY_BOUNDS_MS.length - 1], 1); // 10000
    assert.equal(h.counts[LATENCY_BOUNDS_MS.length], 2); // +Inf
    assert.ok(Math.abs(h.sumMs - (0.1 + 0.11 + 1 + 7 + 10_000 + 10_001 + 99_999)) < 1e-6);
  });

  it('estimates quantiles inside the right bucket', () => {
    const h = new LatencyHistogram();
    assert.equal(h.quantileMs(0.5), undefined);
    for (let i = 0; i < 99; i++) h.observe(0.3); // bucket (0.25, 0.5]
    h.observe(40); // bucket (25, 50]
    const p50 = h.quantileMs(0.5)!;
    assert.ok(p50 > 0.25 && p50 <= 0.5, `p50 ${p50}`);
    const p999 = h.quantileMs(0.999)!;
    assert.ok(p999 > 25 && p999 <= 50, `p99.9 ${p999}`);
  });
});

describe('RecentErrors', () => {
  it('keeps the last N, newest first, reusing its slots', () => {
    const ring = new RecentErrors(3);
    assert.deepEqual(ring.list(), []);
    ring.add('A', 1, 'a');
    ring.add('B', undefined, 'b');
    assert.deepEqual(ring.list().map((e) => [e.code, e.policy]), [['B', null], ['A', 1]]);
    for (const code of ['C', 'D', 'E']) ring.add(code, 2, code.toLowerCase());
    assert.deepEqual(ring.list().map((e) => e.code), ['E', 'D', 'C']);
    assert.equal(ring.total, 5);
    // list() hands out copies: the ring's slots are not exposed.
    ring.list()[0]!.code = 'changed';
    assert.equal(ring.list()[0]!.code, 'E');
  });

  it('counts an error the same as the newest one in its slot, so a storm of one error is one entry', () => {
    const ring = new RecentErrors(3);
    ring.add('OTHER', 1, 'x');
    for (let i = 0; i < 50; i++) ring.add('NO_SERVER', 999, 'no server registered for policy 999');
    ring.add('NO_SERVER', 998, 'no server registered for policy 998');
    ring.add('NO_SERVER', 999, 'no server registered for policy 999');
    assert.deepEqual(
      ring.list().map((e) => [e.code, e.policy, e.count]),
      [['NO_SERVER', 999, 1], ['NO_SERVER', 998, 1], ['NO_SERVER', 999, 50]],
    );
    assert.equal(ring.total, 53);
  });
});

describe('Counters', () => {
  const record = (id: number, policy: number, served: number) => {
    const member = new Member({ id, policy, host: 'h', packetPort: 1, httpPort: undefined, maxInflight: 1, session: true, tls: false, registeredAt: 0, generation: 1 });
    for (let i = 0; i < served; i++) countServed(member.packets!);
    countFailure(member.packets!);
    return member;
  };

  it('counts per policy, keeps unknown policies in one bucket, and keeps the counts of servers that left', () => {
    const stats = new Counters('packets');
    stats.added(record(100, 111, 0));
    stats.countAnswer(111, performance.now() - 2);
    stats.countError('NO_SERVER', 111, 'none live');
    stats.countError('NO_SERVER', 4242, 'never had a server');
    stats.countError('BAD_PACKET');
    stats.countReroute(111);
    const p111 = [...stats.policies()].find((p) => p.policy === 111)!;
    assert.equal(p111.replied, 1);
    assert.equal(p111.rerouted, 1);
    assert.deepEqual(p111.errors, { NO_SERVER: 1 });
    assert.ok(p111.latency.sumMs >= 2);
    assert.deepEqual(stats.unregistered.errors, { NO_SERVER: 1 });
    assert.equal([...stats.policies()].length, 1, 'an unknown policy must not get its own counters');
    assert.deepEqual(stats.errors, { NO_SERVER: 2, BAD_PACKET: 1 });
    assert.deepEqual(stats.recentErrors.list().map((e) => e.code), ['BAD_PACKET', 'NO_SERVER', 'NO_SERVER']);
    stats.removed(record(100, 111, 40));
    stats.removed(record(100, 111, 2)); // registered again, then left again
    assert.deepEqual([...stats.retiredServers()], [{ policy: 111, id: 100, served: 42, failures: 2 }]);
  });
});
