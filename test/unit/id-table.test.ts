import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdTable } from '../../broker/support/id-table.js';

type Op = { kind: 'set'; id: number; value: string } | { kind: 'take'; id: number } | { kind: 'takeAll' };

const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), id: fc.nat(40), value: fc.string({ minLength: 1 }) }),
    fc.record({ kind: fc.constant('take' as const), id: fc.nat(40) }),
    fc.constant({ kind: 'takeAll' as const }),
  ),
  { maxLength: 200 },
);

describe('IdTable', () => {
  it('holds what a Map would, values in ascending order of id', () => {
    fc.assert(
      fc.property(ops, (steps: Op[]) => {
        const table = new IdTable<string>();
        const model = new Map<number, string>();
        const sorted = (): string[] => [...model.keys()].sort((a, b) => a - b).map((id) => model.get(id)!);
        for (const step of steps) {
          if (step.kind === 'set') {
            table.set(step.id, step.value);
            model.set(step.id, step.value);
          } else if (step.kind === 'take') {
            assert.equal(table.take(step.id), model.get(step.id));
            model.delete(step.id);
          } else {
            assert.deepEqual(table.takeAll(), sorted());
            model.clear();
          }
          assert.equal(table.size, model.size);
          assert.deepEqual(table.values(), sorted());
          for (const id of [0, 7, 40]) assert.equal(table.get(id), model.get(id));
        }
      }),
    );
  });

  it('takes the ids the broker gives, up into the millions', () => {
    const table = new IdTable<number>();
    for (let rid = 1; rid <= 100_000; rid++) {
      table.set(rid * 37, rid);
      if (rid > 20) assert.equal(table.take((rid - 20) * 37), rid - 20);
    }
    assert.equal(table.size, 20);
    assert.deepEqual(table.values(), Array.from({ length: 20 }, (_, i) => 100_000 - 19 + i));
  });
});
