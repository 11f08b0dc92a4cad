import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MergedHttpView, mergeBackends, type WorkerReport } from '../../broker/admin/merged-http.js';
import type { BackendSnapshot } from '../../broker/http/backend-view.js';
import { HttpErrorCode } from '../../broker/http/http-errors.js';
import { Counters } from '../../broker/routing/counters.js';
import { UpgradeCounters } from '../../broker/http/upgrade-counters.js';

/** One thing a front end counts. */
type Event =
  | { kind: 'response'; policy: number; server: string; status: number; ms: number }
  | { kind: 'error'; code: HttpErrorCode; policy: number | undefined }
  | { kind: 'retry'; policy: number }
  | { kind: 'abort' };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    kind: fc.constant('response' as const),
    policy: fc.integer({ min: 1, max: 3 }),
    server: fc.constantFrom('100', '101', '10.0.0.1:80'),
    status: fc.constantFrom(200, 404, 500),
    // Whole milliseconds plus a half, away from the histogram's bucket edges.
    ms: fc.integer({ min: 1, max: 20_000 }).map((n) => n + 0.5),
  }),
  fc.record({ kind: fc.constant('error' as const), code: fc.constantFrom(HttpErrorCode.BAD_GATEWAY, HttpErrorCode.NO_SERVER, HttpErrorCode.BAD_REQUEST), policy: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }),
  // Per policy: the field a worker's report once left out.
  fc.record({ kind: fc.constant('retry' as const), policy: fc.integer({ min: 1, max: 3 }) }),
  fc.constant({ kind: 'abort' as const }),
);

/**
 * The clock while the property runs: performance.now() is stubbed to this, so a latency is
 * exactly the event's, however long the test pauses (a GC) between the two counts of one event.
 */
const FROZEN_NOW = 1_000_000;

/** Counts an event as the front end does (latency from a fixed start, so it is exact). */
function count(stats: Counters, e: Event): void {
  stats.received++;
  if (e.kind === 'response') {
    stats.countResponse(e.policy, e.server, e.status, FROZEN_NOW - e.ms);
  } else if (e.kind === 'error') {
    // The front end's counters know each policy that has servers: they observe the table.
    if (e.policy !== undefined) stats.policy(e.policy);
    stats.countError(e.code, e.policy, 'x');
  } else if (e.kind === 'retry') {
    stats.policy(e.policy);
    stats.countReroute(e.policy);
  } else {
    stats.dropped++;
  }
}

/** The counters in a comparable form (latency sums rounded: they come from performance.now()). */
function comparable(stats: Counters) {
  const policies = [...stats.policies()]
    .map((p) => ({
      policy: p.policy,
      replied: p.replied,
      rerouted: p.rerouted,
      errors: { ...p.errors },
      counts: Array.from(p.latency.counts),
      count: p.latency.count,
      sumMs: Math.round(p.latency.sumMs),
      byServer: [...p.byServer].map(([s, m]) => [s, [...m].sort()]).sort(),
    }))
    .sort((a, b) => a.policy - b.policy);
  const { received, replied, rerouted, dropped, truncated } = stats;
  return { received, replied, rerouted, dropped, truncated, errors: { ...stats.errors }, policies, recent: stats.recentErrors.list().length };
}

function report(stats: Counters, backends: BackendSnapshot[] = [], upgrades = new UpgradeCounters().snapshot()): WorkerReport {
  return { connections: 1, inflight: 2, rss: 3, stats: stats.snapshot(), backends, upgrades };
}

describe('merged HTTP figures', () => {
  it('the sum of the workers\' snapshots counts what one front end would have counted', () => {
    const clock = mock.method(performance, 'now', () => FROZEN_NOW);
    try {
      checkSums();
    } finally {
      clock.mock.restore();
    }
  });

  function checkSums(): void {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), eventArb), { maxLength: 120 }), (events) => {
        const one = new Counters('http');
        const workers = [new Counters('http'), new Counters('http'), new Counters('http')];
        for (const [w, e] of events) {
          count(one, e);
          count(workers[w]!, e);
        }
        const merged = Counters.merge('http', workers.map((w) => JSON.parse(JSON.stringify(w.snapshot()))));
        const expected = comparable(one);
        // Each worker keeps its last 50 rows (a repeated error is one row with a count); the merge
        // keeps the newest 50 rows of those, folding neighbours that are the same error.
        assert.deepEqual({ ...comparable(merged), recent: 0 }, { ...expected, recent: 0 });
        const rows = merged.recentErrors.list();
        assert.ok(rows.length <= 50);
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [rows[i - 1]!, rows[i]!];
          assert.ok(a.code !== b.code || a.policy !== b.policy || a.message !== b.message, 'two neighbouring rows are the same error');
        }
        // While nothing was cut (no ring overflowed, the merge kept every row), the rows count every error once.
        if (workers.reduce((n, w) => n + w.recentErrors.list().length, 0) <= 50) {
          assert.equal(rows.reduce((n, r) => n + r.count, 0), one.recentErrors.total);
        }
      }),
      { numRuns: 200, seed: 20261125 },
    );
  }

  it('keeps the counters of a worker that exited, and drops its gauges', () => {
    const view = new MergedHttpView();
    const a = new Counters('http');
    const b = new Counters('http');
    view.started(1, 1001);
    view.started(2, 1002);
    for (let i = 0; i < 5; i++) count(a, { kind: 'response', policy: 1, server: '100', status: 200, ms: 1 });
    for (let i = 0; i < 3; i++) count(b, { kind: 'response', policy: 1, server: '100', status: 200, ms: 1 });
    const backend = (served: number): BackendSnapshot => ({ policy: 1, id: 100, source: 'registered', address: 'h:80', state: 'up', weight: 1, admin: 'enabled', outstanding: 1, served, failures: 0, lastError: null });
    view.report(1, report(a, [backend(5)]));
    view.report(2, report(b, [backend(3)]));
    assert.equal(view.stats.received, 8);
    assert.equal(view.connectionCount, 2);
    assert.deepEqual([...view.backends()].map((x) => [x.served, x.outstanding]), [[8, 2]]);
    view.gone(1);
    view.started(3, 1003);
    assert.equal(view.stats.received, 8);
    assert.equal(view.connectionCount, 1);
    assert.deepEqual([...view.backends()].map((x) => [x.served, x.outstanding]), [[8, 1]]);
    assert.deepEqual(view.workers().map((w) => [w.id, w.pid, w.requests]), [[2, 1002, 3], [3, 1003, 0]]);
    view.gone(2);
    view.gone(3);
    assert.equal(view.stats.received, 8);
    assert.equal([...view.stats.policies()][0]!.replied, 8);
  });

  it('shows a backend in the state all workers agree on, else the worst one', () => {
    const b = (state: BackendSnapshot['state'], lastError: string | null = null): BackendSnapshot => ({ policy: 1, id: null, source: 'static', address: 'h:80', state, weight: 1, admin: 'enabled', outstanding: 0, served: 1, failures: 0, lastError });
    assert.equal(mergeBackends([[b('up')], [b('up')]], new Map())[0]!.state, 'up');
    const mixed = mergeBackends([[b('up')], [b('down', 'refused')], [b('connecting')]], new Map())[0]!;
    assert.equal(mixed.state, 'down');
    assert.equal(mixed.lastError, 'refused');
    assert.equal(mixed.served, 3);
    assert.equal(mixed.id, undefined);
  });
});
