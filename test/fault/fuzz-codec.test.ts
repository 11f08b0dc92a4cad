/**
 * The broker's whole input path (bytes → FrameDecoder → decodePacket) fuzzed with fast-check:
 * 100,000 generated inputs, each either valid packets or clean ProtocolErrors, never a crash,
 * never a frame over the limit. (test/unit/validate.test.ts fuzzes validation alone.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import { FrameDecoder } from '../../broker/protocol/frame-decoder.js';
import type { InboundPacket } from '../../broker/protocol/packet-types.js';
import { decodePacket } from '../../broker/protocol/validate.js';
import { figures } from '../helpers/fault.js';
import { fuzzInputs } from '../helpers/fuzz-inputs.js';

const MAX_FRAME = 512;
const { damaged, invalidUtf8, oddNumbers, otherType, stream } = fuzzInputs({ maxFrame: MAX_FRAME, listenport: fc.integer({ min: 1, max: 65535 }) });
const CODES = new Set<string>(Object.values(ErrorCode));
const outcomes = new Map<string, number>();
let frames = 0;
let inputs = 0;

const isId = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Decodes one frame: a well-formed packet, or a ProtocolError with a known code; nothing else. */
function check(text: string): void {
  frames++;
  let packet: InboundPacket;
  try {
    packet = decodePacket(text);
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `not a ProtocolError for ${JSON.stringify(text.slice(0, 80))}: ${String(err)}`);
    assert.ok(CODES.has(err.code));
    assert.ok(err.seq === undefined || typeof err.seq === 'number' || (typeof err.seq === 'string' && err.seq.length <= 128));
    outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1);
    return;
  }
  outcomes.set(`type ${packet.type}`, (outcomes.get(`type ${packet.type}`) ?? 0) + 1);
  switch (packet.type) {
    case 0:
      assert.ok(isId(packet.srcid) && isId(packet.policy) && typeof packet.payload === 'string');
      break;
    case 1:
      assert.ok(isId(packet.id) && isId(packet.policy) && packet.listenport >= 1 && packet.listenport <= 65535);
      assert.ok(packet.maxInflight >= 1 && packet.maxInflight <= 4096 && typeof packet.session === 'boolean');
      break;
    case 2:
      assert.ok(isId(packet.srcid) && isId(packet.destid) && typeof packet.payload === 'string' && (packet.rid === undefined || isId(packet.rid)));
      break;
    case 5:
      assert.ok(packet.id === undefined || isId(packet.id));
      break;
    case 6:
      assert.ok(isId(packet.id));
      break;
    default:
      assert.fail(`unexpected packet ${JSON.stringify(packet)}`);
  }
}

function feed(bytes: Buffer, cuts: number[]): void {
  let oversized = 0;
  const decoder = new FrameDecoder(MAX_FRAME, {
    frame: (text) => {
      // Invalid UTF-8 decodes to U+FFFD (3 bytes again), so the decoded text is measured in UTF-16 units.
      assert.ok(text.length <= MAX_FRAME, 'no frame is longer than the limit');
      check(text);
    },
    oversized: () => oversized++,
  });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(from, cut));
    assert.ok(decoder.bufferedBytes <= MAX_FRAME, 'never buffers more than the limit');
    from = cut;
  }
  if (oversized > 0) outcomes.set('oversized', (outcomes.get('oversized') ?? 0) + oversized);
}

test('100,000 generated inputs through framing and validation: valid packets or clean errors, nothing else', () => {
  const started = Date.now();
  fc.assert(
    fc.property(stream, ([bytes, cuts]) => {
      inputs++;
      feed(bytes, cuts);
    }),
    { numRuns: 60_000, seed: 4242 },
  );
  fc.assert(
    fc.property(fc.oneof(oddNumbers, otherType, damaged.map((b) => b.toString('utf8')), invalidUtf8.map((b) => b.toString('utf8')), fc.string({ unit: 'binary', maxLength: 100 })), (text) => {
      inputs++;
      check(text);
    }),
    { numRuns: 40_000, seed: 2424 },
  );
  figures('fuzz-codec', { inputs, frames, ms: Date.now() - started, outcomes: Object.fromEntries(outcomes) });
  assert.equal(inputs, 100_000);
  for (const key of ['type 0', 'type 1', 'type 2', 'type 5', 'type 6', 'BAD_PACKET', 'UNKNOWN_TYPE', 'oversized']) {
    assert.ok((outcomes.get(key) ?? 0) >= 50, `only ${outcomes.get(key) ?? 0} inputs gave ${key}`);
  }
});
