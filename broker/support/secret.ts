/**
 * Compares a presented secret with the expected one in constant time: both are hashed first,
 * so neither their contents nor their lengths leak through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export class SecretCheck {
  private readonly expected: Buffer;

  constructor(secret: string) {
    this.expected = digest(secret);
  }

  /** True when `candidate` is exactly the secret. */
  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(digest(candidate), this.expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
