import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder } from '../../broker/protocol/frame-decoder.js';

interface Decoded {
  frames: string[];
  oversized: number[];
  /** The largest bufferedBytes seen after any push. */
  maxBuffered: number;
}

/** Feeds the chunks in order and records everything the decoder reports. */
function decodeChunks(chunks: readonly Buffer[], maxFrameBytes = 1 << 20): Decoded {
  const out: Decoded = { frames: [], oversized: [], maxBuffered: 0 };
  const bytesOf: Buffer[] = [];
  const decoder = new FrameDecoder(maxFrameBytes, {
    frame: (text, from, start, end) => {
      out.frames.push(text);
      bytesOf.push(from.subarray(start, end));
    },
    oversized: (limit) => out.oversized.push(limit),
  });
  for (const chunk of chunks) {
    decoder.push(chunk);
    out.maxBuffered = Math.max(out.maxBuffered, decoder.bufferedBytes);
  }
  // Each frame's bytes are its text's, and stay so after later pushes (they are views, kept by the broker while the packet is in flight).
  bytesOf.forEach((bytes, i) => assert.equal(bytes.toString('utf8'), out.frames[i]));
  return out;
}

/** Cuts `bytes` at the given (sorted, in-range) positions; empty pieces are kept on purpose. */
function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  // Copies, so the decoder cannot rely on the pieces sharing one underlying buffer.
  return pieces.map((p) => Buffer.from(p));
}

function byteByByte(bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(Buffer.from([bytes[i]!]));
  return pieces;
}

/**
 * Asserts that every 2-way split, many 3-way splits and the byte-by-byte feed of `bytes`
 * decode to exactly `expected`, and that the decoder never buffers more than the limit.
 */
function assertSplitInvariant(bytes: Buffer, expected: Decoded['frames'], expectedOversized: number, max = 1 << 20, step3 = 7): void {
  const check = (chunks: Buffer[], how: string): void => {
    const got = decodeChunks(chunks, max);
    assert.deepEqual(got.frames, expected, `frames differ when split ${how}`);
    assert.equal(got.oversized.length, expectedOversized, `oversized calls differ when split ${how}`);
    for (const limit of got.oversized) assert.equal(limit, max);
    assert.ok(got.maxBuffered <= max, `buffered ${got.maxBuffered} > ${max} bytes when split ${how}`);
  };
  check([bytes], 'not at all');
  for (let i = 0; i <= bytes.length; i++) check(splitAt(bytes, [i]), `at ${i}`);
  for (let i = 0; i <= bytes.length; i += step3) {
    for (let j = i; j <= bytes.length; j += step3 === 1 ? 1 : 3) check(splitAt(bytes, [i, j]), `at ${i} and ${j}`);
  }
  check(byteByByte(bytes), 'byte by byte');
}

describe('FrameDecoder: framing', () => {
  // Every kind of frame the wire protocol accepts, in one stream.
  const stream: Array<[wire: string, frames: string[]]> = [
    ['{"type":0,"srcid":1,"privPoliId":111,"payload":"abc"}\n', ['{"type":0,"srcid":1,"privPoliId":111,"payload":"abc"}']],
    ['{"type":0,"srcid":2,"payload":"crlf"}\r\n', ['{"type":0,"srcid":2,"payload":"crlf"}']],
    ['\n', []],
    ['   \n', []],
    ['\r\n', []],
    ['\t \r\n', []],
    ['hello\n', ['hello']],
    ['{"payload":"a}\\"{b"}\n', ['{"payload":"a}\\"{b"}']],
    ['{"payload":"héllo ✓ 😀"}\n', ['{"payload":"héllo ✓ 😀"}']],
    ['  {"lead":"blanks"}\n', ['{"lead":"blanks"}']],
    ['{"trail":"blanks"}  \r\n', ['{"trail":"blanks"}']],
    ['{"nested":{"a":[1,{"b":"}{"}],"c":{}}}\n', ['{"nested":{"a":[1,{"b":"}{"}],"c":{}}}']],
    ['{"broken":\n', ['{"broken":']],
    ['}{{}}\n', ['}{{}}']],
    ['garbage {{"x":1}} here ✓\n', ['garbage {{"x":1}} here ✓']],
    ['[1,2,{"a":3}]\n', ['[1,2,{"a":3}]']],
    // The classic scripts: complete objects with no newline after them.
    ['{"classic":"a}\\"{b ✓","p":"x\\\\","q":"}"}', ['{"classic":"a}\\"{b ✓","p":"x\\\\","q":"}"}']],
    ['{"x":1}{"y":"😀}"}', ['{"x":1}', '{"y":"😀}"}']],
    [' \t{"z":{"deep":["{"]}}', ['{"z":{"deep":["{"]}}']],
  ];
  const wire = Buffer.from(stream.map(([w]) => w).join(''), 'utf8');
  const expected = stream.flatMap(([, frames]) => frames);

  it('decodes the whole stream in one chunk', () => {
    const got = decodeChunks([wire]);
    assert.deepEqual(got.frames, expected);
    assert.deepEqual(got.oversized, []);
    assert.equal(new FrameDecoder(100, { frame() {}, oversized() {} }).bufferedBytes, 0);
  });

  it('gives the same frames however the stream is split (every 2-split, many 3-splits, byte by byte)', () => {
    assertSplitInvariant(wire, expected, 0);
  });

  it('splits multi-byte UTF-8 characters at every byte without corrupting them', () => {
    const text = '{"payload":"héllo ✓ 😀 ü€𝄞"}';
    const bytes = Buffer.from(text + '\n' + text, 'utf8');
    assertSplitInvariant(bytes, [text, text], 0, 1 << 20, 1);
  });

  it('emits nothing for whitespace-only input, and buffers nothing after it', () => {
    const got = decodeChunks([Buffer.from(' \t\r\n\n  \r\n   ')]);
    assert.deepEqual(got.frames, []);
    const decoder = new FrameDecoder(100, { frame: () => assert.fail('no frame expected'), oversized: () => assert.fail('no oversized expected') });
    decoder.push(Buffer.from('   \t '));
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('holds an unfinished object until it closes, then buffers nothing', () => {
    const frames: string[] = [];
    const decoder = new FrameDecoder(100, { frame: (t) => frames.push(t), oversized: () => assert.fail('no oversized expected') });
    decoder.push(Buffer.from('{"a":"}'));
    assert.deepEqual(frames, []);
    assert.equal(decoder.bufferedBytes, 7);
    decoder.push(Buffer.from('"}'));
    assert.deepEqual(frames, ['{"a":"}"}']);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('scans a long line split over reads only once a read ends in a closing brace', () => {
    const frames: string[] = [];
    const decoder = new FrameDecoder(1 << 20, { frame: (t) => frames.push(t), oversized: () => assert.fail('no oversized expected') });
    const line = JSON.stringify({ type: 0, srcid: 1, privPoliId: 111, payload: 'x'.repeat(4096) + '}' + 'y'.repeat(4096) });
    const brace = line.indexOf('}');
    decoder.push(Buffer.from(line.slice(0, 1000)));
    decoder.push(Buffer.from(line.slice(1000, brace)));
    assert.equal(decoder.scannedBytes, 0, 'no byte scanned while no read ends in "}"');
    decoder.push(Buffer.from(line.slice(brace, brace + 1)));
    assert.equal(decoder.scannedBytes, brace + 1, 'a read ending in "}" (here inside a string) is scanned');
    decoder.push(Buffer.from(line.slice(brace + 1) + '\n'));
    assert.deepEqual(frames, [line]);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('frames a line that does not start with "{" at its newline only', () => {
    const frames: string[] = [];
    const decoder = new FrameDecoder(100, { frame: (t) => frames.push(t), oversized: () => assert.fail('no oversized expected') });
    decoder.push(Buffer.from('hello {}'));
    assert.deepEqual(frames, []);
    decoder.push(Buffer.from('{"a":1}'));
    assert.deepEqual(frames, [], 'braces after a non-object start must not frame');
    decoder.push(Buffer.from('\n'));
    assert.deepEqual(frames, ['hello {}{"a":1}']);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('does not emit a frame for a stray closing brace', () => {
    const got = decodeChunks([Buffer.from('}'), Buffer.from('{'), Buffer.from('{'), Buffer.from('}')]);
    assert.deepEqual(got.frames, []);
    assert.deepEqual(decodeChunks([Buffer.from('}'), Buffer.from('{{}'), Buffer.from('}\n')]).frames, ['}{{}}']);
  });
});

describe('FrameDecoder: size limit', () => {
  const MAX = 64;
  const big = (n: number): string => `{"p":"${'x'.repeat(n - 8)}"}`; // exactly n bytes

  it('accepts a line of exactly the limit and refuses one byte more', () => {
    assert.equal(Buffer.byteLength(big(MAX)), MAX);
    const ok = decodeChunks([Buffer.from(big(MAX) + '\n')], MAX);
    assert.deepEqual(ok.frames, [big(MAX)]);
    assert.equal(ok.oversized.length, 0);
    const tooBig = decodeChunks([Buffer.from(big(MAX + 1) + '\n')], MAX);
    assert.deepEqual(tooBig.frames, []);
    assert.deepEqual(tooBig.oversized, [MAX]);
  });

  it('reports an oversized line once, emits no frame for it and decodes the next line', () => {
    const bytes = Buffer.from(`${big(200)}\n{"next":1}\n`);
    const got = decodeChunks([bytes], MAX);
    assert.deepEqual(got.frames, ['{"next":1}']);
    assert.deepEqual(got.oversized, [MAX]);
    assertSplitInvariant(bytes, ['{"next":1}'], 1, MAX, 5);
  });

  it('reports an oversized non-object line once and decodes the next line', () => {
    const bytes = Buffer.from(`${'hello '.repeat(30)}\r\nhello\n`);
    assertSplitInvariant(bytes, ['hello'], 1, MAX, 5);
  });

  it('reports an unterminated oversized object once without ever buffering more than the limit', () => {
    const object = big(1000);
    for (const chunkSize of [1, 7, 63, 64, 65, 500, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < object.length; i += chunkSize) chunks.push(Buffer.from(object.slice(i, i + chunkSize)));
      const frames: string[] = [];
      let oversized = 0;
      const decoder = new FrameDecoder(MAX, { frame: (t) => frames.push(t), oversized: () => oversized++ });
      for (const chunk of chunks) {
        decoder.push(chunk);
        assert.ok(decoder.bufferedBytes <= MAX, `buffered ${decoder.bufferedBytes} bytes with chunks of ${chunkSize}`);
      }
      assert.deepEqual(frames, [], `chunks of ${chunkSize}`);
      assert.equal(oversized, 1, `chunks of ${chunkSize}`);
      // The rest of the connection still works: a newline-terminated packet…
      decoder.push(Buffer.from('\n{"after":1}\n'));
      // …and a classic unterminated one.
      decoder.push(Buffer.from('{"after":2}'));
      assert.deepEqual(frames, ['{"after":1}', '{"after":2}'], `chunks of ${chunkSize}`);
      assert.equal(oversized, 1);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  it('skips an oversized classic object up to its closing brace, so the next classic object is decoded', () => {
    // A classic client: one object, no newline, then the next one on the same connection.
    const bytes = Buffer.from(`${big(300)}{"next":"}"}   {"and":"😀"}`);
    assertSplitInvariant(bytes, ['{"next":"}"}', '{"and":"😀"}'], 1, MAX, 11);
  });

  it('skips an oversized unfinished object up to the newline when the object never closes', () => {
    const bytes = Buffer.from(`{"p":"${'y'.repeat(200)}\n{"next":1}\n`);
    assertSplitInvariant(bytes, ['{"next":1}'], 1, MAX, 11);
  });

  it('reports each of several oversized frames once', () => {
    const bytes = Buffer.from(`${big(100)}\n{"a":1}\n${'z'.repeat(100)}\n${big(100)}{"b":2}`);
    assertSplitInvariant(bytes, ['{"a":1}', '{"b":2}'], 3, MAX, 13);
  });
});

describe('FrameDecoder: properties', () => {
  const jsonObject = fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), { maxKeys: 5 });
  const cutsFor = (length: number) => fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((cuts) => cuts.sort((a, b) => a - b));

  it('NDJSON of arbitrary objects, split anywhere, parses back to the same objects', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(jsonObject, fc.constantFrom('\n', '\r\n')), { maxLength: 8 }).chain((lines) => {
          const bytes = Buffer.from(lines.map(([o, eol]) => JSON.stringify(o) + eol).join(''), 'utf8');
          return fc.tuple(fc.constant(lines.map(([o]) => o)), fc.constant(bytes), cutsFor(bytes.length));
        }),
        ([objects, bytes, cuts]) => {
          const got = decodeChunks(splitAt(bytes, cuts));
          assert.deepEqual(got.oversized, []);
          assert.deepEqual(
            got.frames.map((f) => JSON.parse(f)),
            objects.map((o) => JSON.parse(JSON.stringify(o))),
          );
          assert.equal(got.maxBuffered <= bytes.length, true);
        },
      ),
      { numRuns: 500, seed: 20240601 },
    );
  });

  it('mixed streams (NDJSON, CRLF, blank and text lines, classic objects at the end) frame the same however split', () => {
    type Piece = { wire: string; frames: string[] };
    const objectLine = fc.tuple(jsonObject, fc.constantFrom('\n', '\r\n', '  \n', ' \t\r\n'), fc.constantFrom('', ' ', '\t ')).map(
      ([o, eol, lead]): Piece => ({ wire: lead + JSON.stringify(o) + eol, frames: [JSON.stringify(o)] }),
    );
    const blankLine = fc.constantFrom('\n', '\r\n', '  \n', '\t\r\n').map((wire): Piece => ({ wire, frames: [] }));
    const textLine = fc
      .tuple(fc.constantFrom('h', '}', '[', '"', 'x{', '1'), fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')))
      .map(([first, rest]): Piece => {
        const text = first + rest;
        return { wire: text + '\n', frames: [text.replace(/[ \t\r]+$/, '')] };
      });
    const classic = fc.tuple(fc.constantFrom('', ' ', '\t', '  '), jsonObject).map(([lead, o]): Piece => ({ wire: lead + JSON.stringify(o), frames: [JSON.stringify(o)] }));
    fc.assert(
      fc.property(
        fc.tuple(fc.array(fc.oneof(objectLine, blankLine, textLine), { maxLength: 8 }), fc.array(classic, { maxLength: 3 })).chain(([lines, tail]) => {
          const pieces = [...lines, ...tail];
          const bytes = Buffer.from(pieces.map((p) => p.wire).join(''), 'utf8');
          return fc.tuple(fc.constant(pieces.flatMap((p) => p.frames)), fc.constant(bytes), cutsFor(bytes.length));
        }),
        ([expected, bytes, cuts]) => {
          assert.deepEqual(decodeChunks([bytes]).frames, expected);
          assert.deepEqual(decodeChunks(splitAt(bytes, cuts)).frames, expected);
        },
      ),
      { numRuns: 500, seed: 42 },
    );
  });

  it('streams with oversized lines and objects report each once and frame the rest, however split', () => {
    const MAX = 64;
    type Piece = { wire: string; frames: string[]; oversized: number };
    const small = fc.string({ unit: 'grapheme-ascii', maxLength: 10 }).map((s) => JSON.stringify({ s }));
    const large = fc.string({ unit: 'grapheme', minLength: 80, maxLength: 120 }).map((s) => JSON.stringify({ big: s }));
    const line = fc.oneof(
      fc.tuple(small, fc.constantFrom('\n', '\r\n')).map(([o, eol]): Piece => ({ wire: o + eol, frames: [o], oversized: 0 })),
      fc.tuple(large, fc.constantFrom('\n', '\r\n')).map(([o, eol]): Piece => ({ wire: o + eol, frames: [], oversized: 1 })),
      // An object cut short by its newline, longer than the limit.
      large.map((o): Piece => ({ wire: o.slice(0, -3) + '\n', frames: [], oversized: 1 })),
      fc.constantFrom('\n', ' \r\n').map((wire): Piece => ({ wire, frames: [], oversized: 0 })),
    );
    const classic = fc.oneof(
      small.map((o): Piece => ({ wire: o, frames: [o], oversized: 0 })),
      large.map((o): Piece => ({ wire: o, frames: [], oversized: 1 })),
    );
    fc.assert(
      fc.property(
        fc.tuple(fc.array(line, { maxLength: 6 }), fc.array(classic, { maxLength: 3 })).chain(([lines, tail]) => {
          const pieces = [...lines, ...tail];
          const bytes = Buffer.from(pieces.map((p) => p.wire).join(''), 'utf8');
          const expected = { frames: pieces.flatMap((p) => p.frames), oversized: pieces.reduce((n, p) => n + p.oversized, 0) };
          return fc.tuple(fc.constant(expected), fc.constant(bytes), cutsFor(bytes.length));
        }),
        ([expected, bytes, cuts]) => {
          for (const chunks of [[bytes], splitAt(bytes, cuts)]) {
            const got = decodeChunks(chunks, MAX);
            assert.deepEqual(got.frames, expected.frames);
            assert.equal(got.oversized.length, expected.oversized);
            assert.ok(got.maxBuffered <= MAX);
          }
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });
});
