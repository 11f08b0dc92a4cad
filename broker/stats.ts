import type { ErrorCode } from './protocol/error-codes.js';

/** Counters of the packet path, read by status and metrics. Plain fields: they are bumped per packet. */
export class PacketStats {
  /** Client packets accepted for routing. */
  received = 0;
  /** Replies from servers delivered to clients. */
  replied = 0;
  /** Jobs sent to another server after the one they were on failed. */
  rerouted = 0;
  /** Answers not delivered because the client had gone. */
  dropped = 0;
  /** Error packets sent, by code. */
  readonly errors: Partial<Record<ErrorCode, number>> = {};

  countError(code: ErrorCode): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
}
