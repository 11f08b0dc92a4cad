import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withPolicy } from '../../client/packet-file.js';
import { loadExitCode, type LoadSummary } from '../../client/summary.js';

const summary = (fields: Partial<LoadSummary>): LoadSummary => ({
  sent: 10, answered: 10, lost: 0, errors: {}, byServer: { 100: 10 }, verified: 0, verifyFailed: 0, rps: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, durationMs: 1, resubmitted: 0, silentBrokers: 0, ...fields,
});

describe('loadExitCode', () => {
  it('is 0 when every packet got a reply', () => assert.equal(loadExitCode(summary({}), false), 0));

  it('is 1 for error answers unless they are allowed', () => {
    const errors = summary({ errors: { NO_SERVER: 10 }, byServer: {} });
    assert.equal(loadExitCode(errors, false), 1);
    assert.equal(loadExitCode(errors, true), 0);
    const some = summary({ errors: { UNAVAILABLE: 1 }, byServer: { 100: 9 } });
    assert.equal(loadExitCode(some, false), 1);
  });

  it('is 1 for lost or unverified packets even with errors allowed', () => {
    assert.equal(loadExitCode(summary({ answered: 9, lost: 1, errors: { TIMEOUT_LOCAL: 1 }, byServer: { 100: 9 } }), true), 1);
    assert.equal(loadExitCode(summary({ verifyFailed: 1 }), true), 1);
  });
});

describe('withPolicy', () => {
  it('replaces either spelling of the policy and keeps the rest as written', () => {
    const packets = [{ type: '0', srcid: '7', privPolyId: '111', payload: 'a' }, { type: 0, privPoliId: 111, payload: 'b' }];
    assert.deepEqual(withPolicy(packets, 222), [
      { type: '0', srcid: '7', privPoliId: 222, payload: 'a' },
      { type: 0, privPoliId: 222, payload: 'b' },
    ]);
  });
});
