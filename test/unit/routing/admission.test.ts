import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from '../../../broker/routing/admission.js';

describe('Admission', () => {
  it('counts work taken until it is settled, and is full at its limit', () => {
    const admission = new Admission(2);
    assert.equal(admission.idle(), true);
    admission.accept();
    assert.equal(admission.full, false);
    admission.accept();
    assert.equal(admission.count, 2);
    assert.equal(admission.full, true);
    admission.settle();
    assert.equal(admission.full, false);
    admission.settle();
    assert.equal(admission.count, 0);
    assert.equal(admission.idle(), true);
  });

  it('holds long-lived work apart from the limit, and is idle only once it is released too', () => {
    const admission = new Admission(1);
    admission.accept();
    admission.hold();
    admission.settle();
    assert.equal(admission.count, 0);
    assert.equal(admission.full, false, 'an open tunnel is not under the limit');
    assert.equal(admission.idle(), false, 'the drain waits for it');
    admission.release();
    assert.equal(admission.idle(), true);
  });

  it('has no limit by default', () => {
    const admission = new Admission();
    for (let i = 0; i < 10_000; i++) admission.accept();
    assert.equal(admission.full, false);
  });
});
