/**
 * W3C traceparent: what is valid (version 00 exactly, later versions with more fields, lower
 * case hex, neither id all zeros, version ff never), what the broker makes, and what
 * forwardRequestHeaders sends with --traceparent generate and pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { forwardRequestHeaders, type ForwardSettings } from '../../broker/http/headers.js';
import { isTraceparent, newTraceparent, parseTraceparent } from '../../broker/trace/traceparent.js';
import { describeDecision, type HttpDecision } from '../../broker/trace/decision.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  it('reads the four fields of a version 00 traceparent', () => {
    assert.deepEqual(parseTraceparent(VALID), { version: '00', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '01' });
    assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.flags, '00');
    assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff')?.flags, 'ff');
  });

  it('refuses what the W3C says is invalid', () => {
    for (const bad of [
      '',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // trace id all zeros
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // parent id all zeros
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // trace id 31 hex
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01', // parent id 15 hex
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', // flags 1 hex
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // version 00 has four fields
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ', // trailing space
      '0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
      'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x', // a later version: more only after '-'
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad);
    }
  });

  it('takes a later version with more fields after a "-"', () => {
    assert.equal(isTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), true);
    assert.equal(isTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds'), true);
  });
});

describe('newTraceparent', () => {
  it('is a valid version 00 traceparent, flags 01, different each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = newTraceparent();
      assert.match(t, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.equal(isTraceparent(t), true);
      seen.add(t);
    }
    assert.equal(seen.size, 1000);
  });

  it('never makes an all-zero id, whatever the random bytes', () => {
    const zeros = [Buffer.alloc(24), Buffer.concat([Buffer.alloc(16), Buffer.alloc(8, 1)]), Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(8)]), Buffer.alloc(24, 0xab)];
    let i = 0;
    const t = newTraceparent(() => zeros[i++]!);
    assert.equal(t, `00-${'ab'.repeat(16)}-${'ab'.repeat(8)}-01`);
    fc.assert(fc.property(fc.uint8Array({ minLength: 24, maxLength: 24 }), (bytes) => {
      let first = true;
      const made = newTraceparent(() => (first ? ((first = false), Buffer.from(bytes)) : Buffer.alloc(24, 7)));
      return isTraceparent(made);
    }));
  });
});

describe('forwardRequestHeaders and traceparent', () => {
  const base: ForwardSettings = { upstreamAuthorization: undefined, dropClientAuthorization: false, forwardedProto: 'http', via: '1.1 policy-broker-x', trustForwarded: false };
  const generate: ForwardSettings = { ...base, traceparent: 'generate' };
  const pass: ForwardSettings = { ...base, traceparent: 'pass' };
  const send = (raw: string[], settings: ForwardSettings) => {
    const head = forwardRequestHeaders(['Host', 'example.org', ...raw], '192.0.2.7', true, settings);
    if ('bad' in head) throw new Error(head.bad);
    const all = (name: string) => head.headers.filter((_, i) => i % 2 === 1 && head.headers[i - 1]!.toLowerCase() === name);
    return { head, traceparents: all('traceparent'), tracestates: all('tracestate') };
  };

  it('passes a valid traceparent (and its tracestate) on unchanged, in either mode', () => {
    for (const settings of [generate, pass]) {
      const { head, traceparents, tracestates } = send(['traceparent', VALID, 'tracestate', 'vendor=1'], settings);
      assert.deepEqual(traceparents, [VALID]);
      assert.deepEqual(tracestates, ['vendor=1']);
      assert.equal(head.traceparent, VALID);
    }
  });

  it('generate: makes one when absent, or in place of an invalid one (its tracestate dropped)', () => {
    const absent = send([], generate);
    assert.equal(absent.traceparents.length, 1);
    assert.equal(isTraceparent(absent.traceparents[0]!), true);
    assert.equal(absent.head.traceparent, absent.traceparents[0]);
    const invalid = send(['traceparent', 'ff-nonsense', 'tracestate', 'vendor=1'], generate);
    assert.equal(invalid.traceparents.length, 1);
    assert.notEqual(invalid.traceparents[0], 'ff-nonsense');
    assert.equal(isTraceparent(invalid.traceparents[0]!), true);
    assert.deepEqual(invalid.tracestates, []);
    const twice = send(['traceparent', VALID, 'traceparent', VALID], generate);
    assert.equal(twice.traceparents.length, 1, 'two traceparent headers are invalid: one new one');
    assert.notEqual(twice.traceparents[0], VALID);
  });

  it('pass (and unset): sends what came, makes nothing, records only a valid one', () => {
    for (const settings of [pass, base]) {
      const absent = send([], settings);
      assert.deepEqual(absent.traceparents, []);
      assert.equal(absent.head.traceparent, undefined);
      const invalid = send(['traceparent', 'ff-nonsense'], settings);
      assert.deepEqual(invalid.traceparents, ['ff-nonsense']);
      assert.equal(invalid.head.traceparent, undefined);
    }
  });
});

describe('the trace line', () => {
  it('ends with the traceparent the backend was sent', () => {
    const d: HttpDecision = { kind: 'http', at: 0, requestId: 'r1', method: 'GET', path: '/', policy: 1, server: null, address: '127.0.0.1:8001', attempt: 1, reroutes: [], status: 200, outcome: 'ok', ms: 1, decidedAt: 0, traceparent: VALID };
    assert.match(describeDecision(d), new RegExp(`→ 200 1 ms traceparent ${VALID}$`));
    const { traceparent: _, ...without } = d;
    assert.doesNotMatch(describeDecision(without), /traceparent/);
  });
});
