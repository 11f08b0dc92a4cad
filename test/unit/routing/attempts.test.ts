import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AttemptPolicy, type Failure, type Outcome, type Readiness, type Routed, type Transport } from '../../../broker/routing/attempts.js';
import { Member, type Endpoint, type Protocol } from '../../../broker/routing/member.js';
import { PolicyTable } from '../../../broker/routing/policy-table.js';
import { STRATEGY_NAMES } from '../../../broker/routing/strategies/index.js';
import { setState } from '../../helpers/set-state.js';

interface TestJob extends Routed<string> {
  readonly n: number;
  outcomes: Array<Outcome<string> | { kind: 'answered'; endpoint: Endpoint }>;
}

/** A transport that records sends and outcomes; the test decides when each send ends. */
class FakeTransport implements Transport<TestJob, string> {
  readonly sends: Array<{ job: TestJob; endpoint: Endpoint }> = [];
  readonly readinessOf = new Map<Endpoint, Readiness>();
  reroutes = 0;

  constructor(readonly protocol: Protocol) {}

  readiness(endpoint: Endpoint): Readiness {
    return this.readinessOf.get(endpoint) ?? 'ready';
  }

  send(job: TestJob, endpoint: Endpoint): void {
    job.attempts++;
    this.sends.push({ job, endpoint });
  }

  delivered(job: TestJob, endpoint: Endpoint): void {
    job.outcomes.push({ kind: 'answered', endpoint });
  }

  settle(job: TestJob, outcome: Outcome<string>): void {
    job.outcomes.push(outcome);
  }

  rerouted(): void {
    this.reroutes++;
  }
}

const job = (n: number, policy: number): TestJob => ({ n, policy, attempts: 0, lastFailure: undefined, done: false, outcomes: [] });

let nextGeneration = 1;
function member(id: number | undefined, policy: number, protocols: { packets?: boolean; http?: boolean }): Member {
  return new Member({
    id,
    policy,
    host: '127.0.0.1',
    packetPort: protocols.packets === true ? 1000 + (id ?? 0) : undefined,
    httpPort: protocols.http === true ? 8000 + (id ?? 0) : undefined,
    maxInflight: 1,
    session: false,
    tls: false,
    registeredAt: 0,
    generation: nextGeneration++,
  });
}

const fail = (retry: boolean, code = 'UNAVAILABLE'): Failure<string> => ({ code, message: 'failed', retry });

describe('AttemptPolicy: examples', () => {
  it('a retry goes to another live endpoint even when the strategy picks the failed one (first), and back to it when it is the only one', () => {
    const table = new PolicyTable('first');
    const a = member(1, 111, { http: true });
    const b = member(2, 111, { http: true });
    table.add(a);
    table.add(b);
    const t = new FakeTransport('http');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    assert.equal(t.sends[0]!.endpoint, a.http);
    policy.failed(j, a.http!, fail(true));
    assert.equal(t.sends[1]!.endpoint, b.http);
    table.remove(a);
    policy.failed(j, b.http!, fail(true));
    assert.equal(t.sends[2]!.endpoint, b.http);
  });

  it('sends to a member of the policy and settles answered once', () => {
    const table = new PolicyTable();
    const a = member(1, 111, { packets: true });
    table.add(member(2, 222, { packets: true }));
    table.add(a);
    const t = new FakeTransport('packets');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    assert.equal(t.sends.length, 1);
    assert.equal(t.sends[0]!.endpoint, a.packets);
    assert.equal(a.packets!.outstanding, 1);
    policy.answered(j, a.packets!);
    assert.deepEqual(j.outcomes, [{ kind: 'answered', endpoint: a.packets }]);
    assert.equal(a.packets!.outstanding, 0);
    assert.equal(a.packets!.served, 1);
    assert.equal(policy.pending, 0);
  });

  it('no member of the policy: no-server, unknown-policy; none live: no-live-server', () => {
    const table = new PolicyTable();
    const t = new FakeTransport('packets');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    assert.deepEqual(j.outcomes, [{ kind: 'no-server', missing: 'unknown-policy', after: undefined }]);
    const a = member(1, 111, { packets: true });
    table.add(a);
    setState(table, a.packets!, 'down');
    const k = job(2, 111);
    policy.start(k);
    assert.deepEqual(k.outcomes, [{ kind: 'no-server', missing: 'no-live-server', after: undefined }]);
    assert.equal(policy.pending, 0);
  });

  it('re-routes a failed attempt within the policy until attempts are spent', () => {
    const table = new PolicyTable();
    const members = [1, 2, 3, 4].map((id) => member(id, 111, { packets: true }));
    for (const m of members) table.add(m);
    const t = new FakeTransport('packets');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    for (let i = 0; i < 3; i++) policy.failed(j, t.sends[i]!.endpoint, fail(true, 'TIMEOUT'));
    assert.equal(t.sends.length, 3);
    assert.equal(j.outcomes.length, 1);
    assert.equal(j.outcomes[0]!.kind, 'failed');
    for (const m of members) assert.equal(m.packets!.outstanding, 0);
  });

  it('a failure that may not be retried settles at once', () => {
    const table = new PolicyTable();
    table.add(member(1, 111, { http: true }));
    table.add(member(2, 111, { http: true }));
    const t = new FakeTransport('http');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    policy.failed(j, t.sends[0]!.endpoint, fail(false, '502'));
    assert.equal(t.sends.length, 1);
    assert.deepEqual(j.outcomes.map((o) => o.kind), ['failed']);
  });

  it('prefers a ready endpoint to one that would hold the job; all full is overloaded', () => {
    const table = new PolicyTable('round-robin');
    const dialing = member(1, 111, { packets: true });
    const ready = member(2, 111, { packets: true });
    table.add(dialing);
    table.add(ready);
    const t = new FakeTransport('packets');
    t.readinessOf.set(dialing.packets!, 'later');
    const policy = new AttemptPolicy(table, t, 3);
    policy.start(job(1, 111));
    assert.equal(t.sends[0]!.endpoint, ready.packets);
    t.readinessOf.set(ready.packets!, 'full');
    policy.start(job(2, 111));
    assert.equal(t.sends[1]!.endpoint, dialing.packets, 'the dialing one, as no ready one turned up');
    t.readinessOf.set(dialing.packets!, 'full');
    const j = job(3, 111);
    policy.start(j);
    assert.deepEqual(j.outcomes, [{ kind: 'overloaded' }]);
  });

  it('an abandoned job settles once; its endpoint is released when the attempt ends', () => {
    const table = new PolicyTable();
    const a = member(1, 111, { http: true });
    table.add(a);
    const t = new FakeTransport('http');
    const policy = new AttemptPolicy(table, t, 3);
    const j = job(1, 111);
    policy.start(j);
    policy.abandon(j);
    policy.abandon(j);
    assert.equal(a.http!.outstanding, 1);
    policy.failed(j, a.http!, fail(true));
    assert.deepEqual(j.outcomes, [{ kind: 'abandoned' }]);
    assert.equal(a.http!.outstanding, 0);
    assert.equal(t.sends.length, 1, 'not re-routed once abandoned');
  });
});

/** One step of a random run: start a job, end a send, change a member, or abandon a job. */
type Step =
  | { kind: 'start'; policy: number }
  | { kind: 'answer'; which: number }
  | { kind: 'fail'; which: number; retry: boolean }
  | { kind: 'abandon'; which: number }
  | { kind: 'state'; which: number; state: 'up' | 'down' | 'draining' | 'connecting' }
  | { kind: 'remove'; which: number }
  | { kind: 'renew'; which: number }
  | { kind: 'add'; policy: number; packets: boolean; http: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('start' as const), policy: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('answer' as const), which: fc.nat(50) }),
  fc.record({ kind: fc.constant('fail' as const), which: fc.nat(50), retry: fc.boolean() }),
  fc.record({ kind: fc.constant('abandon' as const), which: fc.nat(50) }),
  fc.record({ kind: fc.constant('state' as const), which: fc.nat(20), state: fc.constantFrom('up' as const, 'down' as const, 'draining' as const, 'connecting' as const) }),
  fc.record({ kind: fc.constant('remove' as const), which: fc.nat(20) }),
  fc.record({ kind: fc.constant('renew' as const), which: fc.nat(20) }),
  fc.record({ kind: fc.constant('add' as const), policy: fc.integer({ min: 1, max: 3 }), packets: fc.boolean(), http: fc.boolean() }),
);

describe('AttemptPolicy: properties, whatever the order of answers, failures, renewals and membership changes', () => {
  for (const protocol of ['packets', 'http'] as const) {
    for (const strategy of STRATEGY_NAMES) {
      it(`${protocol}, ${strategy}: never another policy or protocol; one outcome per job; counts back to zero`, () => {
        fc.assert(
          fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 1, max: 4 }), (steps, maxAttempts) => {
            const table = new PolicyTable(strategy);
            const members: Member[] = [];
            let id = 0;
            const addMember = (policy: number, packets: boolean, http: boolean) => {
              const m = member(++id, policy, { packets, http: http || !packets });
              members.push(m);
              table.add(m);
            };
            for (const policy of [1, 2, 3]) {
              addMember(policy, true, true);
              addMember(policy, protocol === 'packets', protocol === 'http');
            }
            const t = new FakeTransport(protocol);
            const policy = new AttemptPolicy(table, t, maxAttempts);
            const jobs: TestJob[] = [];
            /** Sends not yet ended, as the adapter would hold them. */
            const open: Array<{ job: TestJob; endpoint: Endpoint }> = [];
            const take = (which: number) => (open.length === 0 ? undefined : open.splice(which % open.length, 1)[0]);
            const collect = () => {
              while (t.sends.length > 0) open.push(t.sends.shift()!);
            };
            for (const s of steps) {
              switch (s.kind) {
                case 'start': {
                  const j = job(jobs.length, s.policy);
                  jobs.push(j);
                  policy.start(j);
                  break;
                }
                case 'answer': {
                  const sent = take(s.which);
                  if (sent !== undefined) policy.answered(sent.job, sent.endpoint);
                  break;
                }
                case 'fail': {
                  const sent = take(s.which);
                  if (sent !== undefined) policy.failed(sent.job, sent.endpoint, fail(s.retry));
                  break;
                }
                case 'abandon':
                  if (jobs.length > 0) policy.abandon(jobs[s.which % jobs.length]!);
                  break;
                case 'state': {
                  const m = members[s.which % members.length]!;
                  const e = m.endpoint(protocol);
                  if (e !== undefined) setState(table, e, s.state);
                  break;
                }
                case 'remove': {
                  const m = members[s.which % members.length]!;
                  // As an adapter does: what the member held fails over.
                  if (table.remove(m)) {
                    for (let i = open.length - 1; i >= 0; i--) {
                      if (open[i]!.endpoint.member === m) {
                        const [sent] = open.splice(i, 1);
                        policy.failed(sent!.job, sent!.endpoint, fail(true));
                      }
                    }
                  }
                  break;
                }
                case 'renew': {
                  // The same server registering again: what it holds stays with it.
                  const m = members[s.which % members.length]!;
                  if (m.present) table.renew(m, { ...m.info, generation: nextGeneration++ });
                  break;
                }
                case 'add':
                  addMember(s.policy, s.packets, s.http);
                  break;
              }
              collect();
              for (const sent of open) {
                assert.equal(sent.endpoint.member.policy, sent.job.policy, 'sent to another policy');
                assert.equal(sent.endpoint.protocol, protocol, 'sent to another protocol');
                assert.equal(sent.endpoint, sent.endpoint.member.endpoint(protocol));
                assert.ok(sent.job.attempts <= maxAttempts);
              }
            }
            // Answer everything still out, in order.
            while (open.length > 0) {
              const sent = open.shift()!;
              policy.answered(sent.job, sent.endpoint);
              collect();
            }
            for (const j of jobs) assert.equal(j.outcomes.length, 1, `job ${j.n} settled ${j.outcomes.length} times`);
            for (const m of members) assert.equal(m.endpoint(protocol)?.outstanding ?? 0, 0, `member ${m.id} still counts work`);
            assert.equal(policy.pending, 0);
          }),
          { numRuns: 150, seed: 11 },
        );
      });
    }
  }
});
