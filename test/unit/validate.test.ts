import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePacket, MAX_INFLIGHT_PER_SERVER } from '../../broker/protocol/validate.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import type { InboundPacket } from '../../broker/protocol/packet-types.js';

const decode = (packet: unknown): InboundPacket => decodePacket(typeof packet === 'string' ? packet : JSON.stringify(packet));

/** Asserts that decoding throws a ProtocolError with this code and seq (undefined: none). */
function assertRefused(packet: unknown, code: ErrorCode, seq?: number | string): ProtocolError {
  let caught: unknown;
  try {
    const result = decode(packet);
    assert.fail(`expected ${code} for ${JSON.stringify(packet)}, got ${JSON.stringify(result)}`);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError for ${JSON.stringify(packet)}, got ${String(caught)}`);
  assert.equal(caught.code, code, `code for ${JSON.stringify(packet)}: ${caught.message}`);
  assert.equal(caught.seq, seq, `seq for ${JSON.stringify(packet)}`);
  assert.equal(caught.name, 'ProtocolError');
  assert.ok(caught.message.length > 0);
  return caught;
}

const client = { type: 0, srcid: 7, privPoliId: 111, payloadsize: 3, payload: 'xyz' };
const registration = { type: 1, id: 100, privPolyId: 111, listenport: 2105 };
const reply = { type: 2, srcid: 100, destid: 7, payloadsize: 3, payload: 'abc' };

/** Values that are never an acceptable integer field. */
const NOT_INTEGERS: unknown[] = [
  -1, 1.5, '1.5', '12abc', 'abc', '', ' ', '0x10', '1e3', '+1', '--1', '1 2', true, false, null, [], [1], {}, { n: 1 },
  Number.MAX_SAFE_INTEGER + 1, '9007199254740992', '12345678901234567', 1e300, -1e300, '-1',
];

describe('decodePacket: type 0 (client → broker)', () => {
  it('accepts the documented example', () => {
    assert.deepEqual(decode({ ...client, seq: 1 }), { type: 0, srcid: 7, policy: 111, payload: 'xyz', seq: 1 });
  });

  it('accepts numbers sent as numeric strings, as the classic scripts do', () => {
    assert.deepEqual(decode({ type: '0', srcid: '1', privPoliId: '111', payloadsize: '3', payload: 'xyz' }), {
      type: 0,
      srcid: 1,
      policy: 111,
      payload: 'xyz',
    });
    assert.deepEqual(decode({ ...client, srcid: ' 12 ' }), { type: 0, srcid: 12, policy: 111, payload: 'xyz' });
    assert.deepEqual(decode({ ...client, srcid: '0' }), { type: 0, srcid: 0, policy: 111, payload: 'xyz' });
  });

  it('accepts either spelling of the policy field, preferring privPoliId when both are sent', () => {
    const { privPoliId: _unused, ...noPolicy } = client;
    assert.deepEqual(decode({ ...noPolicy, privPolyId: 222 }), { type: 0, srcid: 7, policy: 222, payload: 'xyz' });
    assert.deepEqual(decode({ ...noPolicy, privPolyId: '222' }), { type: 0, srcid: 7, policy: 222, payload: 'xyz' });
    assert.deepEqual(decode({ ...client, privPolyId: 222 }), { type: 0, srcid: 7, policy: 111, payload: 'xyz' });
    assertRefused(noPolicy, ErrorCode.BAD_PACKET);
    assertRefused({ ...noPolicy, seq: 'a' }, ErrorCode.BAD_PACKET, 'a');
  });

  it('accepts a missing payloadsize', () => {
    const { payloadsize: _unused, ...noSize } = client;
    assert.deepEqual(decode(noSize), { type: 0, srcid: 7, policy: 111, payload: 'xyz' });
  });

  it('reads a missing payload as the empty string (lenient)', () => {
    assert.deepEqual(decode({ type: 0, srcid: 7, privPoliId: 111 }), { type: 0, srcid: 7, policy: 111, payload: '' });
    assert.deepEqual(decode({ type: 0, srcid: 7, privPoliId: 111, payloadsize: 0 }), { type: 0, srcid: 7, policy: 111, payload: '' });
  });

  it('accepts a payloadsize counting UTF-16 units or code points, and nothing else', () => {
    const payload = 'h😀é✓'; // 4 code points, 5 UTF-16 units
    assert.equal(payload.length, 5);
    for (const size of [4, 5, '4', '5']) {
      assert.deepEqual(decode({ ...client, payload, payloadsize: size }), { type: 0, srcid: 7, policy: 111, payload });
    }
    for (const size of [0, 3, 6, 8, '6']) assertRefused({ ...client, payload, payloadsize: size, seq: 9 }, ErrorCode.BAD_PACKET, 9);
    assertRefused({ ...client, payloadsize: 4 }, ErrorCode.BAD_PACKET);
    assertRefused({ ...client, payloadsize: 2 }, ErrorCode.BAD_PACKET);
    assert.deepEqual(decode({ ...client, payload: '', payloadsize: 0 }).type, 0);
  });

  it('takes any number or a string of at most 128 characters as seq, and echoes it', () => {
    for (const seq of [0, -1, 1.5, 2 ** 60, '', 'abc', 'x'.repeat(128), '😀']) {
      assert.deepEqual(decode({ ...client, seq }), { type: 0, srcid: 7, policy: 111, payload: 'xyz', seq });
    }
    for (const seq of ['x'.repeat(129), null, true, [], [1], {}, { a: 1 }]) assertRefused({ ...client, seq }, ErrorCode.BAD_PACKET);
    // 1e400 parses to Infinity, which cannot be echoed.
    assertRefused('{"type":0,"srcid":7,"privPoliId":111,"payload":"xyz","seq":1e400}', ErrorCode.BAD_PACKET);
  });

  it('ignores a rid sent by a client (only the broker sets it)', () => {
    assert.deepEqual(decode({ ...client, rid: 42 }), { type: 0, srcid: 7, policy: 111, payload: 'xyz' });
  });

  it('refuses a missing or ill-typed srcid or policy, with the seq', () => {
    const { srcid: _unused, ...noSrcid } = client;
    assertRefused(noSrcid, ErrorCode.BAD_PACKET);
    assertRefused({ ...noSrcid, seq: 3 }, ErrorCode.BAD_PACKET, 3);
    for (const bad of NOT_INTEGERS) {
      assertRefused({ ...client, srcid: bad, seq: 's' }, ErrorCode.BAD_PACKET, 's');
      assertRefused({ ...client, privPoliId: bad, seq: 4 }, ErrorCode.BAD_PACKET, 4);
      assertRefused({ type: 0, srcid: 7, privPolyId: bad, payload: 'xyz' }, ErrorCode.BAD_PACKET);
      assertRefused({ ...client, payloadsize: bad }, ErrorCode.BAD_PACKET);
    }
  });

  it('accepts the extremes of a safe integer', () => {
    const max = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(decode({ type: 0, srcid: max, privPoliId: String(max), payload: '' }), { type: 0, srcid: max, policy: max, payload: '' });
    assert.deepEqual(decode({ type: 0, srcid: '9007199254740991', privPoliId: 0, payload: '' }).type, 0);
    // JSON numbers with an exponent or a zero fraction are integers too.
    assert.deepEqual(decode('{"type":0,"srcid":1e3,"privPoliId":111.0,"payload":""}'), { type: 0, srcid: 1000, policy: 111, payload: '' });
  });

  it('refuses a payload that is not a string', () => {
    for (const payload of [1, 0, null, true, ['x'], { x: 1 }]) {
      assertRefused({ ...client, payload, payloadsize: undefined, seq: 1 }, ErrorCode.BAD_PACKET, 1);
    }
  });
});

describe('decodePacket: type 1 (registration)', () => {
  it('accepts the documented example', () => {
    assert.deepEqual(decode({ ...registration, maxInflight: 64, session: true }), {
      type: 1,
      id: 100,
      policy: 111,
      listenport: 2105,
      maxInflight: 64,
      session: true,
    });
  });

  it('defaults maxInflight to 1 and session to false', () => {
    assert.deepEqual(decode(registration), { type: 1, id: 100, policy: 111, listenport: 2105, maxInflight: 1, session: false });
  });

  it('accepts numeric strings and either spelling of the policy, preferring privPolyId', () => {
    assert.deepEqual(decode({ type: '1', id: '100', privPoliId: '333', listenport: '2105', maxInflight: '2', httpport: '8080' }), {
      type: 1,
      id: 100,
      policy: 333,
      listenport: 2105,
      maxInflight: 2,
      session: false,
      httpport: 8080,
    });
    assert.equal((decode({ ...registration, privPoliId: 222 }) as { policy: number }).policy, 111);
    const { privPolyId: _unused, ...noPolicy } = registration;
    assertRefused(noPolicy, ErrorCode.BAD_PACKET);
  });

  it('keeps secret and httpport', () => {
    assert.deepEqual(decode({ ...registration, secret: 's3cret', httpport: 8080 }), {
      type: 1,
      id: 100,
      policy: 111,
      listenport: 2105,
      maxInflight: 1,
      session: false,
      secret: 's3cret',
      httpport: 8080,
    });
    assert.equal((decode({ ...registration, secret: 'x'.repeat(1024) }) as { secret: string }).secret.length, 1024);
  });

  it('keeps httptls (its httpport speaks HTTPS), a boolean, and refuses anything else there', () => {
    assert.equal((decode({ ...registration, httpport: 8443, httptls: true }) as { httptls?: boolean }).httptls, true);
    assert.equal('httptls' in decode(registration), false);
    for (const value of ['true', 1, null, {}]) assertRefused({ ...registration, httptls: value }, ErrorCode.BAD_PACKET);
  });

  it('keeps tls, a boolean, and refuses anything else there', () => {
    assert.equal((decode({ ...registration, tls: true }) as { tls?: boolean }).tls, true);
    assert.equal((decode({ ...registration, tls: false }) as { tls?: boolean }).tls, false);
    assert.equal('tls' in decode(registration), false);
    for (const value of ['true', 1, null, {}]) assertRefused({ ...registration, tls: value }, ErrorCode.BAD_PACKET);
  });

  it('checks the range of listenport, maxInflight and httpport', () => {
    for (const port of [1, 65535, '1', '65535']) assert.equal((decode({ ...registration, listenport: port }) as { listenport: number }).listenport, Number(port));
    for (const port of [0, -1, 65536, 100000, '0', '65536']) assertRefused({ ...registration, listenport: port, seq: 2 }, ErrorCode.BAD_PACKET, 2);
    for (const n of [1, MAX_INFLIGHT_PER_SERVER]) assert.equal((decode({ ...registration, maxInflight: n }) as { maxInflight: number }).maxInflight, n);
    assert.equal(MAX_INFLIGHT_PER_SERVER, 4096);
    for (const n of [0, -1, 4097, '4097', 1.5]) assertRefused({ ...registration, maxInflight: n, seq: 2 }, ErrorCode.BAD_PACKET, 2);
    for (const port of [0, 65536, 'x', null]) assertRefused({ ...registration, httpport: port }, ErrorCode.BAD_PACKET);
  });

  it('refuses missing or ill-typed fields', () => {
    for (const field of ['id', 'listenport'] as const) {
      const copy: Record<string, unknown> = { ...registration, seq: 'r' };
      delete copy[field];
      assertRefused(copy, ErrorCode.BAD_PACKET, 'r');
    }
    for (const bad of NOT_INTEGERS) {
      assertRefused({ ...registration, id: bad }, ErrorCode.BAD_PACKET);
      assertRefused({ ...registration, privPolyId: bad }, ErrorCode.BAD_PACKET);
      assertRefused({ ...registration, listenport: bad }, ErrorCode.BAD_PACKET);
    }
    for (const session of ['true', 1, 0, null, 'false', []]) assertRefused({ ...registration, session }, ErrorCode.BAD_PACKET);
    for (const secret of [1, null, true, ['s'], { s: 1 }, 'x'.repeat(1025)]) assertRefused({ ...registration, secret }, ErrorCode.BAD_PACKET);
  });
});

describe('decodePacket: type 2 (server reply)', () => {
  it('accepts the documented examples, with rid and seq', () => {
    const payload = '66b27417d37e024c46526c2f6d358a754fc552f3';
    assert.deepEqual(decode({ type: 2, srcid: 100, destid: 7, payloadsize: 40, payload, rid: 42 }), { type: 2, srcid: 100, destid: 7, payload, rid: 42 });
    assert.deepEqual(decode({ type: 2, srcid: 100, destid: 7, payloadsize: 40, payload, seq: 1 }), { type: 2, srcid: 100, destid: 7, payload, seq: 1 });
    assert.deepEqual(decode({ ...reply, rid: '42', srcid: '100', destid: '7' }), { type: 2, srcid: 100, destid: 7, payload: 'abc', rid: 42 });
  });

  it('accepts a missing payloadsize and destid (read as 0)', () => {
    assert.deepEqual(decode({ type: 2, srcid: 100, payload: 'abc' }), { type: 2, srcid: 100, destid: 0, payload: 'abc' });
  });

  it('checks payloadsize against UTF-16 units or code points', () => {
    assert.equal(decode({ ...reply, payload: '😀', payloadsize: 1 }).type, 2);
    assert.equal(decode({ ...reply, payload: '😀', payloadsize: 2 }).type, 2);
    assertRefused({ ...reply, payload: '😀', payloadsize: 3, seq: 'q' }, ErrorCode.BAD_PACKET, 'q');
  });

  it('refuses missing or ill-typed fields', () => {
    const { srcid: _unused, ...noSrcid } = reply;
    assertRefused(noSrcid, ErrorCode.BAD_PACKET);
    for (const bad of NOT_INTEGERS) {
      assertRefused({ ...reply, srcid: bad, seq: 1 }, ErrorCode.BAD_PACKET, 1);
      assertRefused({ ...reply, destid: bad }, ErrorCode.BAD_PACKET);
      assertRefused({ ...reply, rid: bad }, ErrorCode.BAD_PACKET);
      assertRefused({ ...reply, payloadsize: bad }, ErrorCode.BAD_PACKET);
    }
    for (const payload of [1, null, ['a'], { a: 1 }]) assertRefused({ ...reply, payload, payloadsize: undefined }, ErrorCode.BAD_PACKET);
  });
});

describe('decodePacket: types 5 and 6', () => {
  it('accepts a heartbeat with or without id', () => {
    assert.deepEqual(decode({ type: 5 }), { type: 5 });
    assert.deepEqual(decode({ type: '5', id: '100' }), { type: 5, id: 100 });
    assert.deepEqual(decode({ type: 5, id: 0 }), { type: 5, id: 0 });
    for (const bad of NOT_INTEGERS) assertRefused({ type: 5, id: bad, seq: 5 }, ErrorCode.BAD_PACKET, 5);
  });

  it('keeps a heartbeat\'s echo request, and refuses one that is not a boolean', () => {
    assert.deepEqual(decode({ type: 5, id: 100, echo: true }), { type: 5, id: 100, echo: true });
    assert.deepEqual(decode({ type: 5, echo: false }), { type: 5 });
    for (const bad of ['true', 1, null, {}]) assertRefused({ type: 5, echo: bad }, ErrorCode.BAD_PACKET);
  });

  it('accepts a leave with an id, and refuses one without', () => {
    assert.deepEqual(decode({ type: 6, id: 100 }), { type: 6, id: 100 });
    assert.deepEqual(decode({ type: '6', id: '100', extra: 'ignored' }), { type: 6, id: 100 });
    assertRefused({ type: 6 }, ErrorCode.BAD_PACKET);
    assertRefused({ type: 6, seq: 8 }, ErrorCode.BAD_PACKET, 8);
    for (const bad of NOT_INTEGERS) assertRefused({ type: 6, id: bad }, ErrorCode.BAD_PACKET);
  });
});

describe('decodePacket: what is not a packet', () => {
  it('refuses malformed JSON without a seq', () => {
    for (const text of ['', ' ', '{', '}', 'hello', '{"type":0,}', "{'type':0}", '{"type":0,"seq":1', '{"type":0} x', 'NaN', '{"a":undefined}']) {
      const err = assertRefused(text, ErrorCode.BAD_PACKET);
      assert.match(err.message, /malformed JSON/);
    }
    // The preview of a long frame is cut short.
    assert.ok(assertRefused('x'.repeat(10_000), ErrorCode.BAD_PACKET).message.length < 200);
  });

  it('refuses JSON that is not an object', () => {
    for (const text of ['[]', '[{"type":0,"srcid":1,"privPoliId":1,"payload":""}]', 'null', '0', '1', '"str"', 'true', 'false']) {
      assertRefused(text, ErrorCode.BAD_PACKET);
    }
  });

  it('refuses a missing or ill-typed type with BAD_PACKET, carrying the seq', () => {
    assertRefused({}, ErrorCode.BAD_PACKET);
    assertRefused({ seq: 1 }, ErrorCode.BAD_PACKET, 1);
    for (const type of ['abc', 1.5, '1.5', '0x1', null, true, [], [0], {}, '', Number.MAX_SAFE_INTEGER + 1]) {
      assertRefused({ type, seq: 'z' }, ErrorCode.BAD_PACKET, 'z');
    }
  });

  it('refuses a type it does not know with UNKNOWN_TYPE, carrying the seq', () => {
    for (const type of [9, '9', 3, 4, 7, -1, 100, Number.MAX_SAFE_INTEGER]) {
      assertRefused({ type, seq: 12 }, ErrorCode.UNKNOWN_TYPE, 12);
      assertRefused({ type }, ErrorCode.UNKNOWN_TYPE);
    }
  });

  it('refuses an unusable seq with BAD_PACKET and no seq, whatever the type', () => {
    assertRefused({ type: 9, seq: { a: 1 } }, ErrorCode.BAD_PACKET);
    assertRefused({ ...registration, seq: 'x'.repeat(200) }, ErrorCode.BAD_PACKET);
  });

  it('is not fooled by keys named like Object.prototype members', () => {
    assertRefused('{"__proto__":{"type":0},"srcid":1,"privPoliId":1}', ErrorCode.BAD_PACKET);
    assert.deepEqual(decode('{"type":5,"__proto__":{"id":"x"},"constructor":1}'), { type: 5 });
  });
});

describe('decodePacket: properties', () => {
  const INBOUND_TYPES = new Set([0, 1, 2, 5, 6]);
  const isSafeNonNegative = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

  /** The seq decodePacket must carry on a refusal of `text`, or undefined. */
  function expectedSeq(text: string): number | string | undefined {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const seq = (value as Record<string, unknown>).seq;
    if (typeof seq === 'number' && Number.isFinite(seq)) return seq;
    if (typeof seq === 'string' && seq.length <= 128) return seq;
    return undefined;
  }

  /** How often each outcome was seen, to check that the generators reach every branch. */
  const outcomes = new Map<string, number>();
  const count = (key: string): void => void outcomes.set(key, (outcomes.get(key) ?? 0) + 1);

  /** Checks one outcome: a well-formed packet, or a ProtocolError with the right code and seq. */
  function checkOutcome(text: string): void {
    let packet: InboundPacket;
    try {
      packet = decodePacket(text);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `not a ProtocolError for ${JSON.stringify(text)}: ${String(err)}`);
      count(err.code);
      assert.ok(err.code === ErrorCode.BAD_PACKET || err.code === ErrorCode.UNKNOWN_TYPE, err.code);
      const seq = expectedSeq(text);
      // A refusal caused by the seq itself cannot carry it.
      if (seq !== undefined) assert.equal(err.seq, seq);
      else assert.equal(err.seq, undefined);
      return;
    }
    assert.ok(INBOUND_TYPES.has(packet.type), `type ${packet.type}`);
    count(`type ${packet.type}`);
    switch (packet.type) {
      case 0:
        assert.ok(isSafeNonNegative(packet.srcid) && isSafeNonNegative(packet.policy) && typeof packet.payload === 'string');
        assert.equal(packet.seq, expectedSeq(text));
        assert.equal(packet.rid, undefined);
        break;
      case 1:
        assert.ok(isSafeNonNegative(packet.id) && isSafeNonNegative(packet.policy));
        assert.ok(Number.isInteger(packet.listenport) && packet.listenport >= 1 && packet.listenport <= 65535);
        assert.ok(Number.isInteger(packet.maxInflight) && packet.maxInflight >= 1 && packet.maxInflight <= MAX_INFLIGHT_PER_SERVER);
        assert.equal(typeof packet.session, 'boolean');
        break;
      case 2:
        assert.ok(isSafeNonNegative(packet.srcid) && isSafeNonNegative(packet.destid) && typeof packet.payload === 'string');
        assert.ok(packet.rid === undefined || isSafeNonNegative(packet.rid));
        break;
      case 5:
        assert.ok(packet.id === undefined || isSafeNonNegative(packet.id));
        break;
      case 6:
        assert.ok(isSafeNonNegative(packet.id));
        break;
    }
  }

  // Field values that sit on the edges of what validation accepts.
  const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.integer({ min: -5, max: 70000 }),
    fc.constantFrom(0, 1, 2, 5, 6, 9, 65535, 65536, 4096, 4097, -0, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e21),
    fc.integer({ min: -5, max: 70000 }).map(String),
    fc.constantFrom('', ' 1', '1 ', '1.5', '12abc', '0x1', '1e3', '-0', '9007199254740993', 'true'),
    fc.string({ unit: 'binary', maxLength: 140 }),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const base = fc.constantFrom<Record<string, unknown>>(
    { ...client, seq: 1 },
    { ...client, seq: 'abc' },
    { ...registration, maxInflight: 64, session: true, secret: 's', httpport: 8080 },
    { ...reply, rid: 42, seq: 3 },
    { type: 5, id: 100 },
    { type: 6, id: 100, seq: 'x' },
  );
  const fieldName = fc.constantFrom('type', 'srcid', 'privPoliId', 'privPolyId', 'payload', 'payloadsize', 'seq', 'id', 'listenport', 'maxInflight', 'session', 'secret', 'httpport', 'destid', 'rid', '__proto__', 'other');
  const mutation = fc.oneof(
    fc.tuple(fc.constant('set' as const), fieldName, fieldValue),
    fc.tuple(fc.constant('delete' as const), fieldName, fc.constant(undefined)),
  );
  const mutatedPacket = fc.tuple(base, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([packet, mutations]) => {
    const copy: Record<string, unknown> = { ...packet };
    for (const [op, name, value] of mutations) {
      if (op === 'delete') delete copy[name];
      else Object.defineProperty(copy, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return JSON.stringify(copy);
  });
  // Text-level damage to a valid packet: cut, insert or overwrite characters.
  const damagedText = fc
    .tuple(base.map((p) => JSON.stringify(p)), fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.constantFrom('cut', 'insert', 'overwrite'))
    .map(([text, at, insert, how]) => {
      const i = at % (text.length + 1);
      if (how === 'cut') return text.slice(0, i);
      if (how === 'insert') return text.slice(0, i) + insert + text.slice(i);
      return text.slice(0, i) + insert + text.slice(i + insert.length);
    });

  it('never throws anything but a ProtocolError, and every packet it returns is well formed (20,000+ runs)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
          fc.dictionary(fieldName, fieldValue).map((o) => JSON.stringify(o)),
          mutatedPacket,
          mutatedPacket,
          damagedText,
        ),
        (text) => checkOutcome(text),
      ),
      { numRuns: 25_000, seed: 1234567 },
    );
    for (const key of ['type 0', 'type 1', 'type 2', 'type 5', 'type 6', ErrorCode.BAD_PACKET, ErrorCode.UNKNOWN_TYPE]) {
      assert.ok((outcomes.get(key) ?? 0) >= 100, `only ${outcomes.get(key) ?? 0} runs gave ${key}: ${JSON.stringify([...outcomes])}`);
    }
  });

  it('every valid client packet decodes to its fields, whatever form the numbers take', () => {
    fc.assert(
      fc.property(
        fc.record({
          srcid: fc.nat(),
          policy: fc.nat(),
          payload: fc.string({ unit: 'binary', maxLength: 50 }),
          seq: fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 128 })), { nil: undefined }),
          spelling: fc.constantFrom('privPoliId', 'privPolyId'),
          sizeAs: fc.constantFrom('none', 'utf16', 'codepoints'),
        }),
        fc.boolean(),
        (p, asStrings) => {
          const wire: Record<string, unknown> = {
            type: asStrings ? '0' : 0,
            srcid: asStrings ? String(p.srcid) : p.srcid,
            [p.spelling]: asStrings ? String(p.policy) : p.policy,
            payload: p.payload,
          };
          if (p.sizeAs === 'utf16') wire.payloadsize = p.payload.length;
          if (p.sizeAs === 'codepoints') wire.payloadsize = [...p.payload].length;
          if (p.seq !== undefined) wire.seq = p.seq;
          const expected: Record<string, unknown> = { type: 0, srcid: p.srcid, policy: p.policy, payload: p.payload };
          if (p.seq !== undefined) expected.seq = p.seq;
          assert.deepEqual(decodePacket(JSON.stringify(wire)), expected);
        },
      ),
      { numRuns: 2000, seed: 99 },
    );
  });
});
