import { createHash } from 'node:crypto';

/** The SHA-1 of the payload's UTF-8 bytes, as 40 lowercase hex digits: what the classic lab servers answer. */
export function sha1Hex(payload: string): string {
  return createHash('sha1').update(payload, 'utf8').digest('hex');
}
