import { test } from 'node:test';
import assert from 'node:assert/strict';
import { categoryOf, summarize } from '../../scripts/bench/http-profile.js';

test('profile samples are summed by who runs them', () => {
  assert.equal(categoryOf('(idle)', ''), 'idle');
  assert.equal(categoryOf('writev', ''), 'native: socket writes and reads, string encoding');
  assert.equal(categoryOf('_resume', 'file:///x/node_modules/undici/lib/dispatcher/client.js'), 'undici (with its llhttp parser)');
  assert.equal(categoryOf('wasm-function[20]', 'wasm://wasm/00034eea'), 'undici (with its llhttp parser)');
  assert.equal(categoryOf('onRequest', 'file:///x/dist/broker/http/http-front-end.js'), 'policy-broker');
  assert.equal(categoryOf('write_', 'node:_http_outgoing'), 'node:http (server side)');
  assert.equal(categoryOf('onStreamRead', 'node:internal/stream_base_commons'), 'streams and sockets (JavaScript)');
  assert.equal(categoryOf('emit', 'node:events'), 'other Node internals (events, timers, async context, buffers)');
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(idle)', url: '' } },
      { id: 2, callFrame: { functionName: 'writev', url: '' } },
      { id: 3, callFrame: { functionName: 'onRequest', url: 'file:///x/dist/broker/http/http-front-end.js' } },
    ],
    samples: [1, 2, 3, 2],
    timeDeltas: [100, 10, 20, 30],
  };
  const { byCategory, byFunction } = summarize(profile);
  assert.equal(byCategory.get('idle'), 100);
  assert.equal(byCategory.get('native: socket writes and reads, string encoding'), 40);
  assert.equal(byFunction.get('onRequest (dist/broker/http/http-front-end.js)'), 20);
  assert.equal(byFunction.has('(idle)'), false);
});
