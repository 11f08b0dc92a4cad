import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAscii } from 'node:buffer';
import { encodeForward, forwardLine, forwardText } from '../../broker/protocol/encode.js';
import { RAW_LITERAL_MIN_LENGTH, rawLiteralAt } from '../../broker/protocol/raw-literal.js';
import { decodePacket } from '../../broker/protocol/validate.js';
import type { ClientPacket } from '../../broker/protocol/packet-types.js';

/** What encodeForward made before raw literals: JSON.stringify of the packet. */
const stringified = (p: ClientPacket, rid: number): string =>
  JSON.stringify({ type: 0, srcid: p.srcid, privPoliId: p.policy, payloadsize: p.payload.length, payload: p.payload, rid }) + '\n';

/** The literal rawLiteralAt finds, as text. */
function rawStringLiteral(raw: string, key: string, value: string): string | undefined {
  const at = rawLiteralAt(raw, key, value);
  return at === undefined ? undefined : raw.slice(at, at + value.length + 2);
}

const long = (text: string): string => text.repeat(Math.ceil(RAW_LITERAL_MIN_LENGTH / text.length) + 1);

describe('rawLiteralAt', () => {
  it("takes the literal after the key when it is exactly the value's", () => {
    const value = long('abc');
    assert.equal(rawStringLiteral(`{"type":0,"payload":"${value}","seq":1}`, 'payload', value), `"${value}"`);
    // Python's json.dumps writes a space after the colon.
    assert.equal(rawStringLiteral(`{"type": 0, "payload": "${value}"}`, 'payload', value), `"${value}"`);
  });

  it('gives up on an escape, another value or a decoy that would need one', () => {
    const value = long('a"b');
    assert.equal(rawStringLiteral(JSON.stringify({ payload: value }), 'payload', value), undefined);
    assert.equal(rawStringLiteral('{"payload":"xyz"}', 'payload', 'xyw'), undefined);
    assert.equal(rawStringLiteral('{"payload":\t"xyz"}', 'payload', 'xyz'), undefined);
    assert.equal(rawStringLiteral('{"payload" : "xyz"}', 'payload', 'xyz'), '"xyz"');
    // "payload": inside another field's string, followed by text equal to the value with a raw tab: not a literal.
    assert.equal(rawStringLiteral('{"seq":"\\"payload\\":"}', 'payload', ''), undefined);
  });

  it('is the line JSON.stringify makes, for any packet the decoder accepts', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 1200, unit: 'binary' }), fc.nat(), fc.nat(), fc.boolean(), (payload, srcid, policy, spaced) => {
        const fields = { type: 0, srcid, privPoliId: policy, payload, seq: 7 };
        const text = spaced ? JSON.stringify(fields).replace(/":/g, '": ') : JSON.stringify(fields);
        const packet = decodePacket(Buffer.from(text).toString()) as ClientPacket;
        assert.equal(encodeForward(packet.srcid, packet.policy, packet.payload, 42, packet.raw), stringified(packet, 42));
      }),
      { numRuns: 500 },
    );
  });

  it('a decoy before the payload yields the same line', () => {
    const value = long('v');
    // A client could put the key's text, then the payload's characters, in a string of its own.
    const text = JSON.stringify({ type: 0, srcid: 1, privPoliId: 2, note: `"payload":"${value}"`, payload: value });
    const packet = decodePacket(text) as ClientPacket;
    assert.equal(encodeForward(1, 2, packet.payload, 9, packet.raw), stringified(packet, 9));
    const other = long('w');
    const changed = JSON.stringify({ type: 0, srcid: 1, privPoliId: 2, payload: value, x: `"payload":"${other}"` });
    assert.equal(encodeForward(1, 2, other, 9, changed), stringified({ type: 0, srcid: 1, policy: 2, payload: other }, 9));
  });

  it('keeps the frame only for a long payload', () => {
    assert.equal((decodePacket('{"type":0,"srcid":1,"privPoliId":2,"payload":"short"}') as ClientPacket).raw, undefined);
    const text = JSON.stringify({ type: 0, srcid: 1, privPoliId: 2, payload: long('x') });
    assert.equal((decodePacket(text) as ClientPacket).raw, text);
  });
});

describe('forwardLine', () => {
  const ascii = (text: string): Buffer | undefined => {
    const bytes = Buffer.from(text);
    return isAscii(bytes) ? bytes : undefined;
  };

  it("splices a long ASCII payload's bytes into the line JSON.stringify makes", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 1200, unit: 'binary' }), fc.nat(), fc.nat(), fc.boolean(), (payload, srcid, policy, spaced) => {
        const fields = { type: 0, srcid, privPoliId: policy, payload, seq: 7 };
        const text = spaced ? JSON.stringify(fields).replace(/":/g, '": ') : JSON.stringify(fields);
        const decoded = Buffer.from(text).toString();
        const packet = decodePacket(decoded, ascii(decoded)) as ClientPacket;
        assert.equal(forwardText(forwardLine(packet, 42)), stringified(packet, 42));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the bytes only for a long payload of an all-ASCII frame, and uses them', () => {
    const text = JSON.stringify({ type: 0, srcid: 1, privPoliId: 2, payload: long('x') });
    const packet = decodePacket(text, ascii(text)) as ClientPacket;
    const line = forwardLine(packet, 5);
    assert.notEqual(typeof line, 'string');
    assert.equal(forwardText(line), stringified(packet, 5));
    const short = decodePacket('{"type":0,"srcid":1,"privPoliId":2,"payload":"short"}', Buffer.from('x')) as ClientPacket;
    assert.equal(short.rawBytes, undefined);
    const wide = JSON.stringify({ type: 0, srcid: 1, privPoliId: 2, payload: long('é') });
    assert.equal(typeof forwardLine(decodePacket(wide, ascii(wide)) as ClientPacket, 5), 'string');
    // A payload a hook changed is encoded, not spliced.
    assert.equal(forwardText(forwardLine({ ...packet, payload: long('y') }, 5)), stringified({ ...packet, payload: long('y') }, 5));
  });
});
