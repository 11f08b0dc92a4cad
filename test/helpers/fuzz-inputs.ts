/**
 * fast-check generators of hostile input for the broker's input path: valid packets, packets
 * with huge or odd numbers, unknown types, damaged text, invalid UTF-8, deep nesting, random
 * bytes and frames over the limit, mixed into streams split at arbitrary places.
 */
import fc from 'fast-check';

export interface FuzzSettings {
  /** Frames of about this size and up to three times it are generated (the limit under test). */
  maxFrame: number;
  /**
   * The listenport of generated registrations. A live broker dials it, so a test against one
   * passes a port it owns; registrations are never damaged, so no other port can come up.
   */
  listenport: fc.Arbitrary<number>;
}

export function fuzzInputs(settings: FuzzSettings) {
  const notRegistration = fc.oneof(
    fc.record({ type: fc.constantFrom(0, '0'), srcid: fc.nat(), privPoliId: fc.nat(), payload: fc.string({ unit: 'binary', maxLength: 40 }), seq: fc.option(fc.nat(), { nil: undefined }) }),
    fc.record({ type: fc.constant(2), srcid: fc.nat(), destid: fc.nat(), payload: fc.string({ maxLength: 40 }), rid: fc.nat() }),
    fc.record({ type: fc.constant(5), id: fc.nat() }),
    fc.record({ type: fc.constant(6), id: fc.nat() }),
  );
  const registration = fc.record({
    type: fc.constant(1),
    id: fc.nat(),
    privPolyId: fc.nat(),
    listenport: settings.listenport,
    maxInflight: fc.integer({ min: 1, max: 4096 }),
    session: fc.boolean(),
  });
  const validPacket = fc.oneof({ weight: 4, arbitrary: notRegistration }, { weight: 1, arbitrary: registration });
  const hugeNumber = fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '9007199254740993', '-0', '0.0000001', '1E+308', '"99999999999999999"', '"1e3"', 'NaN', 'Infinity');
  const field = fc.constantFrom('type', 'srcid', 'privPoliId', 'privPolyId', 'payload', 'payloadsize', 'seq', 'id', 'listenport', 'maxInflight', 'session', 'rid', 'destid', '__proto__', 'constructor');
  /** Valid packets with a field replaced by a huge, odd or badly typed number, written as raw JSON text. */
  const oddNumbers = fc.tuple(validPacket, field, hugeNumber).map(([packet, name, raw]) => {
    // The listenport of a registration is never changed to another valid port.
    const text = JSON.stringify({ ...packet, [name]: '@@' });
    return text.replace('"@@"', raw);
  });
  /** A packet of a type the broker does not take (3 and 4 are its own; 7 on are unknown). */
  const otherType = fc
    .tuple(validPacket, fc.oneof(fc.constantFrom(3, 4, '3', '4'), fc.integer({ min: 7, max: 1_000_000 })))
    .map(([packet, type]) => JSON.stringify({ ...packet, type }));
  /** A valid packet (not a registration) cut, with bytes inserted or overwritten. */
  const damaged = fc
    .tuple(notRegistration, fc.nat(), fc.uint8Array({ maxLength: 4 }), fc.constantFrom('cut', 'insert', 'overwrite'))
    .map(([packet, at, bytes, how]) => {
      const text = Buffer.from(JSON.stringify(packet));
      const i = at % (text.length + 1);
      const insert = Buffer.from(bytes);
      if (how === 'cut') return text.subarray(0, i);
      if (how === 'insert') return Buffer.concat([text.subarray(0, i), insert, text.subarray(i)]);
      return Buffer.concat([text.subarray(0, i), insert, text.subarray(Math.min(text.length, i + insert.length))]);
    });
  /** A packet whose payload holds bytes that are not UTF-8. */
  const invalidUtf8 = fc
    .tuple(validPacket, fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf0, 0x28, 0x8c, 0x28], [0xc0, 0xaf], [0xe2, 0x82], [0x00]))
    .map(([packet, bad]) => {
      const text = JSON.stringify({ ...packet, payload: '@@' });
      const [before, after] = text.split('@@') as [string, string];
      return Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]);
    });
  const nesting = fc.tuple(fc.integer({ min: 1, max: 400 }), fc.constantFrom('[', '{"a":', '{"type":0,"payload":')).map(([depth, open]) => open.repeat(depth));
  const oversized = fc
    .integer({ min: settings.maxFrame - 8, max: settings.maxFrame * 3 })
    .map((n) => Buffer.from(`{"type":0,"srcid":1,"privPoliId":1,"payload":"${'x'.repeat(n)}"}`));
  const piece: fc.Arbitrary<Buffer> = fc.oneof(
    { weight: 3, arbitrary: validPacket.map((p) => Buffer.from(JSON.stringify(p))) },
    { weight: 2, arbitrary: oddNumbers.map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: otherType.map((t) => Buffer.from(t)) },
    { weight: 3, arbitrary: damaged },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: nesting.map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: oversized },
  );
  const separator = fc.constantFrom('\n', '\r\n', '', ' ', '\n\n');
  /** A stream of pieces and separators, and places to split it into chunks. */
  const stream = fc.array(fc.tuple(piece, separator), { minLength: 1, maxLength: 6 }).chain((pieces) => {
    const bytes = Buffer.concat(pieces.flatMap(([p, sep]) => [p, Buffer.from(sep)]));
    return fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 6 }).map((cuts) => cuts.sort((a, b) => a - b)));
  });
  return { validPacket, oddNumbers, otherType, damaged, invalidUtf8, nesting, piece, stream };
}
