import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPolicy, matchesRequest, resolveInterceptors } from '../../../broker/hooks/check.js';
import { resolveBrokerOptions, OptionError } from '../../../broker/options.js';

const noop = () => undefined;

describe('interceptor checks', () => {
  it('fills in the defaults', () => {
    const [hook] = resolveInterceptors([{ name: 'a', onRequest: noop, bufferResponse: undefined }]);
    assert.equal(hook!.timeoutMs, 1000);
    assert.equal(hook!.failOpen, false);
    assert.equal(hook!.http, true);
    assert.equal(hook!.onPacket, false);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 42, /#1 must be an object, got number/],
    ['no name', { onRequest: noop }, /"name" must be/],
    ['no hook', { name: 'x' }, /has none of onRequest/],
    ['a hook that is not a function', { name: 'x', onPacket: 'no' }, /onPacket must be a function/],
    ['an unknown field', { name: 'x', onRequest: noop, onRequests: noop }, /unknown field "onRequests"/],
    ['a path that is a string', { name: 'x', onRequest: noop, match: { path: '/a' } }, /match.path must be a RegExp/],
    ['a global path', { name: 'x', onRequest: noop, match: { path: /a/g } }, /g or y flag/],
    ['lower-case methods', { name: 'x', onRequest: noop, match: { methods: ['get'] } }, /upper-case/],
    ['packet type 1', { name: 'x', onPacket: noop, match: { packetTypes: [1] } }, /packetTypes/],
    ['a zero timeout', { name: 'x', onRequest: noop, timeoutMs: 0 }, /timeoutMs/],
    ['another fail mode', { name: 'x', onRequest: noop, failMode: 'maybe' }, /failMode/],
    ['a buffer without its hook', { name: 'x', onRequest: noop, bufferResponse: { maxBytes: 10 } }, /bufferResponse is set but its hook \(onResponse\)/],
    ['a negative limit', { name: 'x', onResponse: noop, bufferResponse: { maxBytes: -1 } }, /maxBytes/],
    ['onOverflow on requests', { name: 'x', onRequest: noop, bufferRequest: { maxBytes: 1, onOverflow: 'error' } }, /413/],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => resolveInterceptors([value]), message));
  }

  it('refuses a name used twice', () => {
    assert.throws(() => resolveInterceptors([{ name: 'a', onRequest: noop }, { name: 'a', onPacket: noop }]), /"a": the name is used twice/);
  });

  it('reports a bad interceptor as an option error', () => {
    assert.throws(() => resolveBrokerOptions({ interceptors: [{ name: 'x' } as never] }), (err: unknown) => err instanceof OptionError && err.option === 'interceptors');
  });

  it('matches on path, method and policy; an absent field matches everything', () => {
    const [all, narrow] = resolveInterceptors([
      { name: 'all', onRequest: noop },
      { name: 'narrow', onRequest: noop, match: { path: /^\/[^/]+\/_search$/, methods: ['GET', 'POST'], policies: [111] } },
    ]);
    assert.equal(matchesRequest(all!, 'DELETE', '/x', 5), true);
    assert.equal(matchesRequest(narrow!, 'POST', '/idx/_search', 111), true);
    assert.equal(matchesRequest(narrow!, 'PUT', '/idx/_search', 111), false);
    assert.equal(matchesRequest(narrow!, 'GET', '/idx/_search', 222), false);
    assert.equal(matchesRequest(narrow!, 'GET', '/idx/_doc', 111), false);
    assert.equal(matchesPolicy(narrow!, 111), true);
    assert.equal(matchesPolicy(narrow!, 112), false);
  });

  it('packetTypes choose between onPacket and onReply', () => {
    const [both, onlyIn] = resolveInterceptors([
      { name: 'both', onPacket: noop, onReply: noop },
      { name: 'in', onPacket: noop, onReply: noop, match: { packetTypes: [0] } },
    ]);
    assert.deepEqual([both!.onPacket, both!.onReply], [true, true]);
    assert.deepEqual([onlyIn!.onPacket, onlyIn!.onReply], [true, false]);
  });
});
