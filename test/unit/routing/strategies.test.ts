import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createStrategy, isStrategyName, STRATEGY_NAMES, type SelectionStrategy, type StrategyName } from '../../../broker/routing/strategies/index.js';
import { RoundRobin } from '../../../broker/routing/strategies/round-robin.js';
import { RandomChoice } from '../../../broker/routing/strategies/random.js';
import { FirstMember } from '../../../broker/routing/strategies/first.js';
import { LastMember } from '../../../broker/routing/strategies/last.js';
import { LeastOutstanding } from '../../../broker/routing/strategies/least-outstanding.js';
import { mulberry32 } from '../../../scripts/lib/sim-plan.js';

interface Member {
  readonly name: string;
  outstanding: number;
  weight: number;
}

const member = (name: string, outstanding = 0, weight = 1): Member => ({ name, outstanding, weight });
const names = (picked: Array<Member | undefined>): string[] => picked.map((m) => m?.name ?? '-');
const pickN = (s: SelectionStrategy<Member>, n: number): string[] => names(Array.from({ length: n }, () => s.pick()));

const makers: Record<StrategyName, () => SelectionStrategy<Member>> = {
  'round-robin': () => new RoundRobin<Member>(),
  random: () => new RandomChoice<Member>(mulberry32(1)),
  first: () => new FirstMember<Member>(),
  last: () => new LastMember<Member>(),
  'least-outstanding': () => new LeastOutstanding<Member>(),
};

describe('strategies: common behaviour', () => {
  it('createStrategy builds each named strategy, and names are recognised', () => {
    for (const name of STRATEGY_NAMES) {
      const s = createStrategy<Member>(name);
      assert.equal(s.name, name);
      assert.equal(s.size, 0);
      assert.equal(isStrategyName(name), true);
    }
    assert.equal(isStrategyName('fastest'), false);
    assert.equal(isStrategyName(''), false);
  });

  for (const name of STRATEGY_NAMES) {
    it(`${name}: empty gives undefined, also after the last member leaves`, () => {
      const s = makers[name]();
      assert.equal(s.pick(), undefined);
      const a = member('a');
      s.add(a);
      assert.equal(s.size, 1);
      assert.equal(s.pick(), a);
      s.remove(a);
      assert.equal(s.size, 0);
      assert.equal(s.pick(), undefined);
      assert.equal(s.pick(), undefined);
    });

    it(`${name}: adding twice or removing a stranger changes nothing`, () => {
      const s = makers[name]();
      const a = member('a');
      const b = member('b');
      s.add(a);
      s.add(a);
      assert.equal(s.size, 1);
      s.remove(b);
      assert.equal(s.size, 1);
      s.outstandingChanged(b, 0);
      for (let i = 0; i < 10; i++) assert.equal(s.pick(), a);
      s.add(b);
      s.remove(a);
      s.remove(a);
      assert.equal(s.size, 1);
      for (let i = 0; i < 10; i++) assert.equal(s.pick(), b);
    });

    it(`${name}: only ever picks current members (random membership changes)`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'remove', 'pick', 'pick'), fc.integer({ min: 0, max: 5 })), { maxLength: 60 }), (ops) => {
          const s = makers[name]();
          const pool = Array.from({ length: 6 }, (_, i) => member(`m${i}`));
          const present = new Set<Member>();
          for (const [op, i] of ops) {
            const m = pool[i]!;
            if (op === 'add') {
              s.add(m);
              present.add(m);
            } else if (op === 'remove') {
              s.remove(m);
              present.delete(m);
            } else {
              const picked = s.pick();
              if (present.size === 0) assert.equal(picked, undefined);
              else assert.ok(picked !== undefined && present.has(picked), `${name} picked ${picked?.name}`);
            }
            assert.equal(s.size, present.size);
          }
        }),
        { numRuns: 300, seed: 5 },
      );
    });
  }
});

describe('round-robin', () => {
  it('spreads 1000 picks over 3 members within one of even', () => {
    const s = new RoundRobin<Member>();
    const members = [member('a'), member('b'), member('c')];
    for (const m of members) s.add(m);
    const counts = new Map<string, number>();
    for (const picked of pickN(s, 1000)) counts.set(picked, (counts.get(picked) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), ['a', 'b', 'c']);
    for (const n of counts.values()) assert.ok(Math.abs(n - 1000 / 3) <= 1, `count ${n}`);
  });

  it('cycles in join order', () => {
    const s = new RoundRobin<Member>();
    for (const n of ['a', 'b', 'c']) s.add(member(n));
    assert.deepEqual(pickN(s, 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('keeps pointing at the same next member when a member leaves', () => {
    // For each cursor position and each member removed, the order continues without a skip.
    for (let picked = 0; picked <= 4; picked++) {
      for (const gone of ['a', 'b', 'c', 'd']) {
        const s = new RoundRobin<Member>();
        const ms = ['a', 'b', 'c', 'd'].map((n) => member(n));
        for (const m of ms) s.add(m);
        const before = pickN(s, picked);
        s.remove(ms.find((m) => m.name === gone)!);
        const after = pickN(s, 6);
        // The expected order: the cycle a b c d without `gone`, continuing after the last pick.
        const cycle = ['a', 'b', 'c', 'd'];
        const last = before.at(-1);
        let next = last === undefined ? 0 : (cycle.indexOf(last) + 1) % 4;
        if (cycle[next] === gone) next = (next + 1) % 4;
        const rest = cycle.filter((n) => n !== gone);
        const start = rest.indexOf(cycle[next]!);
        const expected = Array.from({ length: 6 }, (_, i) => rest[(start + i) % 3]!);
        assert.deepEqual(after, expected, `after ${picked} picks, removing ${gone}`);
      }
    }
  });

  it('stays even when a member is removed mid-way, and serves one added later in turn', () => {
    const s = new RoundRobin<Member>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => member(n)) as [Member, Member, Member, Member];
    for (const m of [a, b, c]) s.add(m);
    const first = pickN(s, 500);
    s.remove(b);
    const second = pickN(s, 500);
    assert.ok(!second.includes('b'));
    const count = (list: string[], n: string) => list.filter((x) => x === n).length;
    assert.ok(Math.abs(count(second, 'a') - count(second, 'c')) <= 1);
    // No member is picked twice in a row while another is waiting.
    for (let i = 1; i < second.length; i++) assert.notEqual(second[i], second[i - 1], `repeat at ${i}`);
    assert.equal(first.at(-1), 'b'); // 500 = 3 × 166 + 2: a, b were the last two picks
    assert.equal(second[0], 'c');
    s.add(d);
    const third = pickN(s, 300);
    for (const n of ['a', 'c', 'd']) assert.equal(count(third, n), 100, n);
    s.add(b);
    const fourth = pickN(s, 400);
    for (const n of ['a', 'b', 'c', 'd']) assert.equal(count(fourth, n), 100, n);
  });

  it('is fair under any membership churn: between two picks of a member, every other member present throughout is picked', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'remove', 'pick', 'pick', 'pick'), fc.integer({ min: 0, max: 4 })), { maxLength: 120 }), (ops) => {
        const s = new RoundRobin<Member>();
        const pool = Array.from({ length: 5 }, (_, i) => member(`m${i}`));
        let time = 0;
        /** When each present member joined, and when it was last picked. */
        const joinedAt = new Map<Member, number>();
        const lastPickAt = new Map<Member, number>();
        for (const [op, i] of ops) {
          time++;
          const m = pool[i]!;
          if (op === 'add') {
            if (!joinedAt.has(m)) joinedAt.set(m, time);
            s.add(m);
          } else if (op === 'remove') {
            joinedAt.delete(m);
            lastPickAt.delete(m);
            s.remove(m);
          } else {
            const picked = s.pick();
            if (joinedAt.size === 0) {
              assert.equal(picked, undefined);
              continue;
            }
            assert.ok(picked !== undefined && joinedAt.has(picked));
            const previous = lastPickAt.get(picked);
            if (previous !== undefined) {
              for (const [other, joined] of joinedAt) {
                if (other === picked || joined > previous) continue;
                const otherLast = lastPickAt.get(other) ?? -1;
                assert.ok(otherLast > previous, `${picked.name} picked again at ${time} before ${other.name} (present since ${joined}) got a turn`);
              }
            }
            lastPickAt.set(picked, time);
          }
        }
      }),
      { numRuns: 1000, seed: 17 },
    );
  });
});

describe('random', () => {
  it('maps the injected random number onto the members uniformly', () => {
    const values = [0, 0.2, 0.34, 0.5, 0.67, 0.9999];
    let i = 0;
    const s = new RandomChoice<Member>(() => values[i++]!);
    for (const n of ['a', 'b', 'c']) s.add(member(n));
    assert.deepEqual(pickN(s, 6), ['a', 'a', 'b', 'b', 'c', 'c']);
  });

  it('does not call random when empty, and only picks members', () => {
    let calls = 0;
    const s = new RandomChoice<Member>(() => {
      calls++;
      return 0.5;
    });
    assert.equal(s.pick(), undefined);
    assert.equal(calls, 0);
    s.add(member('only'));
    assert.equal(s.pick()?.name, 'only');
    assert.equal(calls, 1);
  });

  it('is roughly uniform with a seeded generator, and follows removals', () => {
    const s = new RandomChoice<Member>(mulberry32(2024));
    const ms = ['a', 'b', 'c', 'd'].map((n) => member(n));
    for (const m of ms) s.add(m);
    const counts = new Map<string, number>();
    for (const n of pickN(s, 4000)) counts.set(n, (counts.get(n) ?? 0) + 1);
    for (const n of ['a', 'b', 'c', 'd']) assert.ok(Math.abs((counts.get(n) ?? 0) - 1000) < 150, `${n}: ${counts.get(n)}`);
    s.remove(ms[1]!);
    assert.ok(!pickN(s, 500).includes('b'));
  });

  it('uses Math.random by default', () => {
    const s = createStrategy<Member>('random');
    s.add(member('a'));
    s.add(member('b'));
    for (const n of pickN(s, 20)) assert.ok(n === 'a' || n === 'b');
  });
});

describe('first and last', () => {
  it('first picks the earliest-joined member and falls back to the next when it leaves', () => {
    const s = new FirstMember<Member>();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => member(n)) as [Member, Member, Member];
    s.add(a);
    s.add(b);
    s.add(c);
    assert.deepEqual(pickN(s, 3), ['a', 'a', 'a']);
    s.remove(a);
    assert.deepEqual(pickN(s, 2), ['b', 'b']);
    s.add(a); // rejoining puts it at the back
    assert.deepEqual(pickN(s, 2), ['b', 'b']);
    s.remove(c);
    assert.equal(s.pick(), b);
    s.remove(b);
    assert.equal(s.pick(), a);
  });

  it('last picks the latest-joined member and falls back to the previous when it leaves', () => {
    const s = new LastMember<Member>();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => member(n)) as [Member, Member, Member];
    s.add(a);
    s.add(b);
    s.add(c);
    assert.deepEqual(pickN(s, 3), ['c', 'c', 'c']);
    s.remove(c);
    assert.equal(s.pick(), b);
    s.remove(a);
    assert.equal(s.pick(), b);
    s.add(a);
    assert.equal(s.pick(), a);
    s.add(c);
    assert.equal(s.pick(), c);
  });

  it('first and last follow the join order under any churn', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5 })), { maxLength: 60 }), (ops) => {
        const first = new FirstMember<Member>();
        const last = new LastMember<Member>();
        const pool = Array.from({ length: 6 }, (_, i) => member(`m${i}`));
        const order: Member[] = [];
        for (const [add, i] of ops) {
          const m = pool[i]!;
          if (add) {
            first.add(m);
            last.add(m);
            if (!order.includes(m)) order.push(m);
          } else {
            first.remove(m);
            last.remove(m);
            if (order.includes(m)) order.splice(order.indexOf(m), 1);
          }
          assert.equal(first.pick(), order[0]);
          assert.equal(last.pick(), order.at(-1));
          assert.equal(first.outstandingChanged(), undefined);
        }
      }),
      { numRuns: 500, seed: 23 },
    );
  });
});

describe('least-outstanding', () => {
  /** Moves a member's count by one and tells the strategy, as the registry does. */
  const move = (s: SelectionStrategy<Member>, m: Member, delta: 1 | -1): void => {
    const before = m.outstanding;
    m.outstanding += delta;
    s.outstandingChanged(m, before);
  };

  it('picks the member with the fewest outstanding requests, ties to the longest waiting', () => {
    const s = new LeastOutstanding<Member>();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => member(n)) as [Member, Member, Member];
    s.add(a);
    s.add(b);
    s.add(c);
    assert.equal(s.pick(), a);
    move(s, a, 1);
    assert.equal(s.pick(), b);
    move(s, b, 1);
    assert.equal(s.pick(), c);
    move(s, c, 1);
    assert.equal(s.pick(), a); // all at 1: a reached it first
    move(s, b, -1);
    assert.equal(s.pick(), b);
    s.remove(b);
    assert.equal(s.pick(), a);
    s.add(member('d', 5));
    assert.equal(s.pick(), a);
    s.add(member('e', 0));
    assert.equal(s.pick()?.name, 'e');
  });

  it('takes a member’s current count when it is added, and ignores changes to non-members', () => {
    const s = new LeastOutstanding<Member>();
    const a = member('a', 3);
    const b = member('b', 2);
    s.add(a);
    assert.equal(s.pick(), a);
    move(s, b, -1); // not a member yet: ignored
    s.add(b);
    assert.equal(s.pick(), b);
    s.remove(b);
    move(s, b, 1);
    move(s, b, 1);
    move(s, b, 1); // b at 4 while out of the group
    s.add(b);
    assert.equal(s.pick(), a);
    s.remove(a);
    assert.equal(s.pick(), b);
    s.remove(b);
    assert.equal(s.pick(), undefined);
    s.add(member('c', 7));
    assert.equal(s.pick()?.name, 'c');
  });

  it('always picks a member with the minimum count (model-based, against a brute-force minimum)', () => {
    type Op = { kind: 'add' | 'remove' | 'inc' | 'dec'; index: number };
    const op: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('add', 'remove', 'inc', 'inc', 'dec', 'dec'), index: fc.integer({ min: 0, max: 7 }) });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }), fc.array(op, { maxLength: 200 }), (initial, ops) => {
        const s = new LeastOutstanding<Member>();
        const pool = initial.map((n, i) => member(`m${i}`, n));
        const present = new Set<Member>();
        for (const { kind, index } of ops) {
          const m = pool[index]!;
          switch (kind) {
            case 'add':
              s.add(m);
              present.add(m);
              break;
            case 'remove':
              s.remove(m);
              present.delete(m);
              break;
            case 'inc':
              move(s, m, 1);
              break;
            case 'dec':
              if (m.outstanding > 0) move(s, m, -1);
              break;
          }
          assert.equal(s.size, present.size);
          const picked = s.pick();
          if (present.size === 0) {
            assert.equal(picked, undefined);
            continue;
          }
          const min = Math.min(...[...present].map((x) => x.outstanding));
          assert.ok(picked !== undefined && present.has(picked), `picked ${picked?.name}, not a member`);
          assert.equal(picked.outstanding, min, `picked ${picked.name} at ${picked.outstanding}, minimum is ${min}`);
        }
      }),
      { numRuns: 1000, seed: 31 },
    );
  });
});
