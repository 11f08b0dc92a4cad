/**
 * W3C Trace Context's traceparent header (https://www.w3.org/TR/trace-context/): whether a
 * value is valid, and a new one for a request that has none. The broker does not take part in
 * the trace as a span of its own: a valid traceparent goes to the backend unchanged, so the
 * backend's logs carry the client's trace id; the broker's trace line carries it too.
 *
 * `00-<trace id: 32 hex>-<parent id: 16 hex>-<flags: 2 hex>`, lower case; neither id all
 * zeros; version ff is invalid; a later version may add fields after a `-`.
 */
import { randomBytes } from 'node:crypto';

export interface Traceparent {
  version: string;
  traceId: string;
  parentId: string;
  flags: string;
}

const FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);
/** The length of a version 00 traceparent. */
const V00_LENGTH = 55;
/** Random bytes are drawn for this many traceparents at once (one call instead of one a request). */
const BATCH = 128;
let batch = Buffer.alloc(0);
let used = 0;

/** 24 random bytes, from the current batch. */
function pooledRandom(bytes: number): Buffer {
  if (used + bytes > batch.length) {
    batch = randomBytes(bytes * BATCH);
    used = 0;
  }
  used += bytes;
  return batch.subarray(used - bytes, used);
}

/** The fields of a valid traceparent, or undefined when `value` is not one. */
export function parseTraceparent(value: string): Traceparent | undefined {
  const m = FIELDS.exec(value);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  // Version 00 is exactly its four fields; a later version may go on, after a '-'.
  if (value.length !== V00_LENGTH && (version === '00' || value[V00_LENGTH] !== '-')) return undefined;
  return { version, traceId, parentId, flags };
}

/** Whether `value` is a valid traceparent. */
export function isTraceparent(value: string): boolean {
  return parseTraceparent(value) !== undefined;
}

/**
 * A new traceparent: version 00, random trace and parent ids, flags 01 (sampled, so that a
 * backend that follows its caller's sampling decision records the request).
 */
export function newTraceparent(random: (bytes: number) => Buffer = pooledRandom): string {
  for (;;) {
    const hex = random(24).toString('hex');
    const traceId = hex.slice(0, 32);
    const parentId = hex.slice(32, 48);
    if (traceId !== ZERO_TRACE && parentId !== ZERO_PARENT) return `00-${traceId}-${parentId}-01`;
  }
}
