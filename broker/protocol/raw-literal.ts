/**
 * A long payload's JSON string literal, taken from the frame it arrived in instead of encoded
 * again. JSON.stringify of a 64 KiB string costs the broker ~90-170 µs (it checks and copies
 * every character), against a few µs of memchr-speed searches here: for long payloads the
 * re-encoding was most of the broker's CPU per packet.
 *
 * Only an exact match is used: the literal that follows the key, written with no escape at
 * all, whose characters are exactly `value`'s and need no escape. Then `"` + value + `"` is
 * byte for byte what JSON.stringify(value) makes, and the forwarded line is unchanged. Anything
 * else (an escape in the literal, the key spelled with other whitespace than a space, a value
 * changed by a hook since) returns undefined and the caller encodes as before. The match is
 * checked against `value` itself, so a decoy (the key's text inside another field) can only
 * ever yield a correct literal of `value`.
 */

/** Payloads shorter than this are encoded as usual: JSON.stringify is cheap for them. */
export const RAW_LITERAL_MIN_LENGTH = 512;

const QUOTE = 34;
const COLON = 58;

/** The characters JSON requires escaped that a parsed frame can hold raw outside its strings (whitespace); others cannot appear raw at all. */
const MUST_ESCAPE = ['"', '\\', '\t', '\n', '\r'] as const;

/**
 * Where `"` + value + `"` starts in `raw`, after `"key"`, when that is exactly value's JSON
 * literal (value.length + 2 characters from there); undefined when it is not.
 */
export function rawLiteralAt(raw: string, key: string, value: string): number | undefined {
  const keyText = `"${key}"`;
  const at = raw.indexOf(keyText);
  if (at < 0) return undefined;
  let i = skipSpaces(raw, at + keyText.length);
  if (raw.charCodeAt(i) !== COLON) return undefined;
  i = skipSpaces(raw, i + 1);
  if (raw.charCodeAt(i) !== QUOTE) return undefined;
  const end = i + 1 + value.length;
  if (raw.charCodeAt(end) !== QUOTE) return undefined;
  const inner = raw.slice(i + 1, end);
  if (inner !== value) return undefined;
  // Equal to value, yet perhaps not the literal that held it (a decoy outside any string):
  // then it must still need no escape to stand as a literal of its own.
  for (const c of MUST_ESCAPE) if (inner.includes(c)) return undefined;
  return i;
}

function skipSpaces(text: string, i: number): number {
  while (text.charCodeAt(i) === 32) i++;
  return i;
}
