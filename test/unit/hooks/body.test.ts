import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { decodeBody, headersForBody, responseHasNoBody } from '../../../broker/hooks/body.js';
import { frameResponse, singleLength } from '../../../broker/hooks/framing.js';
import { HeaderList } from '../../../broker/hooks/header-list.js';

describe('body helpers', () => {
  it('a new body gets its length; validators and the coding go', () => {
    const h = new HeaderList(['Content-Type', 'application/json', 'Transfer-Encoding', 'chunked', 'ETag', '"x"', 'Content-MD5', 'abc', 'Content-Encoding', 'gzip']);
    headersForBody(h, 12, true);
    assert.deepEqual(h.raw, ['Content-Type', 'application/json', 'content-length', '12']);
  });

  it('an unchanged body keeps its validators', () => {
    const h = new HeaderList(['ETag', '"x"', 'Content-Length', '5', 'Content-Encoding', 'gzip']);
    headersForBody(h, 5, false);
    assert.deepEqual(h.toObject(), { etag: '"x"', 'content-encoding': 'gzip', 'content-length': '5' });
  });

  it('HEAD, 1xx, 204 and 304 carry no body; 204 has no length, HEAD and 304 the backend\'s', () => {
    assert.equal(responseHasNoBody('HEAD', 200), true);
    assert.equal(responseHasNoBody('GET', 204), true);
    assert.equal(responseHasNoBody('GET', 304), true);
    assert.equal(responseHasNoBody('GET', 200), false);
    const h = new HeaderList(['content-length', '10']);
    frameResponse(h, { kind: 'none', status: 204 }, 10);
    assert.equal(h.has('content-length'), false);
    const k = new HeaderList(['content-length', '2', 'content-length', '3', 'transfer-encoding', 'chunked']);
    frameResponse(k, { kind: 'none', status: 304 }, 10);
    assert.deepEqual(k.raw, ['content-length', '10']);
  });

  it('framing is the broker\'s: whatever a hook left, no Transfer-Encoding and at most one Content-Length, the true one', () => {
    const hooked = () => new HeaderList(['X-A', '1', 'Content-Length', '2', 'content-length', '99', 'Transfer-Encoding', 'chunked']);
    const whole = hooked();
    frameResponse(whole, { kind: 'whole', length: 10, changed: false }, 10);
    assert.deepEqual(whole.raw, ['X-A', '1', 'content-length', '10']);
    const streamed = hooked();
    frameResponse(streamed, { kind: 'stream' }, 10);
    assert.deepEqual(streamed.raw, ['X-A', '1', 'content-length', '10']);
    const unknown = hooked();
    frameResponse(unknown, { kind: 'stream' }, undefined);
    assert.deepEqual(unknown.raw, ['X-A', '1'], 'no length: Node sends it chunked');
    assert.equal(singleLength(new HeaderList(['content-length', '5', 'content-length', '5'])), undefined);
    assert.equal(singleLength(new HeaderList(['Content-Length', '5'])), 5);
  });

  const text = Buffer.from(JSON.stringify({ hits: Array.from({ length: 50 }, (_, i) => ({ id: i })) }));
  const codings: Array<[string, Buffer]> = [
    ['gzip', gzipSync(text)],
    ['x-gzip', gzipSync(text)],
    ['deflate', deflateSync(text)],
    ['Deflate', deflateRawSync(text)],
    ['br', brotliCompressSync(text)],
    ['identity', text],
  ];
  for (const [coding, bytes] of codings) {
    it(`decodes ${coding}`, async () => {
      const out = await decodeBody(coding, bytes, 1 << 20);
      assert.ok('body' in out);
      assert.deepEqual(out.body, text);
    });
  }

  it('stops decoding past maxBytes (a small bomb)', async () => {
    const bomb = gzipSync(Buffer.alloc(10 << 20));
    assert.deepEqual(await decodeBody('gzip', bomb, 1 << 20), { overflow: true });
  });

  it('says what it cannot decode', async () => {
    const unknown = await decodeBody('zstd', text, 1 << 20);
    assert.ok('unreadable' in unknown && /zstd/.test(unknown.unreadable));
    const corrupt = await decodeBody('gzip', Buffer.from('not gzip'), 1 << 20);
    assert.ok('unreadable' in corrupt);
  });
});

describe('HeaderList', () => {
  it('reads case-insensitively, keeps what it does not touch, and refuses bad values', () => {
    const h = new HeaderList(['Host', 'a', 'X-A', '1', 'x-a', '2']);
    assert.equal(h.get('x-A'), '1, 2');
    h.set('X-B', 'b');
    h.delete('X-A');
    assert.deepEqual(h.raw, ['Host', 'a', 'X-B', 'b']);
    assert.throws(() => h.set('X-C', 'a\r\nInjected: 1'), /invalid value/);
    assert.throws(() => h.set('bad name', 'x'), /invalid header name/);
  });
});
