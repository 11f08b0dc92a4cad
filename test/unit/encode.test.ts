import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeError, encodeForward, encodeLine, encodeRegistered, encodeReply } from '../../broker/protocol/encode.js';
import { ErrorCode } from '../../broker/protocol/error-codes.js';
import { decodePacket } from '../../broker/protocol/validate.js';
import { FrameDecoder } from '../../broker/protocol/frame-decoder.js';

/** Exactly one trailing "\n" and no other newline: one frame on the wire. */
function assertOneLine(line: string): Record<string, unknown> {
  assert.ok(line.endsWith('\n'), 'ends with a newline');
  assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one newline, at the end');
  assert.ok(!line.endsWith('\r\n'));
  return JSON.parse(line) as Record<string, unknown>;
}

/** The frames a FrameDecoder gets out of these lines, fed as one stream. */
function frame(lines: string[]): string[] {
  const frames: string[] = [];
  const decoder = new FrameDecoder(1 << 20, { frame: (t) => frames.push(t), oversized: () => assert.fail('oversized') });
  decoder.push(Buffer.from(lines.join(''), 'utf8'));
  assert.equal(decoder.bufferedBytes, 0);
  return frames;
}

describe('encodeLine', () => {
  it('is JSON.stringify plus one newline', () => {
    assert.equal(encodeLine({ type: 5 }), '{"type":5}\n');
    assert.equal(encodeLine({}), '{}\n');
    const line = encodeLine({ payload: 'a\nb\r\nc', emoji: '😀' });
    assert.deepEqual(assertOneLine(line), { payload: 'a\nb\r\nc', emoji: '😀' });
  });

  it('keeps newlines inside strings escaped, for any object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' })), (o) => {
        const line = encodeLine(o);
        assert.deepEqual(assertOneLine(line), JSON.parse(JSON.stringify(o)));
        assert.equal(frame([line]).length, 1);
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});

describe('encodeError', () => {
  it('echoes seq only when given', () => {
    assert.equal(encodeError(ErrorCode.NO_SERVER, 'no live server for policy 333', 1), '{"type":3,"code":"NO_SERVER","message":"no live server for policy 333","seq":1}\n');
    assert.deepEqual(assertOneLine(encodeError(ErrorCode.BAD_PACKET, 'bad')), { type: 3, code: 'BAD_PACKET', message: 'bad' });
    assert.deepEqual(assertOneLine(encodeError(ErrorCode.TIMEOUT, 't', 'abc')), { type: 3, code: 'TIMEOUT', message: 't', seq: 'abc' });
    assert.deepEqual(assertOneLine(encodeError(ErrorCode.TIMEOUT, 't', 0)), { type: 3, code: 'TIMEOUT', message: 't', seq: 0 });
    assert.deepEqual(assertOneLine(encodeError(ErrorCode.TIMEOUT, 't', '')), { type: 3, code: 'TIMEOUT', message: 't', seq: '' });
    assert.ok(!('seq' in assertOneLine(encodeError(ErrorCode.OVERLOADED, 'o', undefined))));
  });

  it('encodes every error code and any message as one line', () => {
    for (const code of Object.values(ErrorCode)) {
      const message = `multi\nline ${code} "quoted" ✓`;
      assert.deepEqual(assertOneLine(encodeError(code, message, 7)), { type: 3, code, message, seq: 7 });
    }
  });
});

describe('encodeForward', () => {
  it('carries rid, privPoliId and a payloadsize', () => {
    assert.equal(encodeForward(7, 111, 'xyz', 42), '{"type":0,"srcid":7,"privPoliId":111,"payloadsize":3,"payload":"xyz","rid":42}\n');
    assert.deepEqual(assertOneLine(encodeForward(0, 0, '', 0)), { type: 0, srcid: 0, privPoliId: 0, payloadsize: 0, payload: '', rid: 0 });
  });

  it('round-trips through decodePacket (the rid is the broker’s, so a client packet drops it)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(), (srcid, policy, payload, rid) => {
        const line = encodeForward(srcid, policy, payload, rid);
        const wire = assertOneLine(line);
        assert.equal(wire.rid, rid);
        assert.equal(wire.payloadsize, payload.length);
        assert.deepEqual(frame([line]).map((text) => decodePacket(text)), [{ type: 0, srcid, policy, payload }]);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

describe('encodeReply', () => {
  const sha = '66b27417d37e024c46526c2f6d358a754fc552f3';

  it('echoes seq only when given', () => {
    assert.equal(encodeReply(100, 7, sha, 1), `{"type":2,"srcid":100,"destid":7,"payloadsize":40,"payload":"${sha}","seq":1}\n`);
    assert.equal(encodeReply(100, 7, sha), `{"type":2,"srcid":100,"destid":7,"payloadsize":40,"payload":"${sha}"}\n`);
    assert.equal((assertOneLine(encodeReply(100, 7, sha, 0)) as { seq: unknown }).seq, 0);
    assert.equal((assertOneLine(encodeReply(100, 7, sha, '')) as { seq: unknown }).seq, '');
  });

  it('round-trips through decodePacket', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 128 })), { nil: undefined }),
        (server, dest, payload, seq) => {
          const line = encodeReply(server, dest, payload, seq);
          const expected: Record<string, unknown> = { type: 2, srcid: server, destid: dest, payload };
          if (seq !== undefined) expected.seq = seq;
          assert.deepEqual(decodePacket(line), expected);
          assert.deepEqual(frame([line, line]).map((text) => decodePacket(text)), [expected, expected]);
        },
      ),
      { numRuns: 500, seed: 12 },
    );
  });
});

describe('encodeRegistered', () => {
  it('answers a registration with type 4 and status "registered"', () => {
    assert.deepEqual(assertOneLine(encodeRegistered({ id: 100, privPolyId: 111, heartbeatMs: 1000 })), {
      type: 4,
      status: 'registered',
      id: 100,
      privPolyId: 111,
      heartbeatMs: 1000,
    });
  });
});
