import type { ErrorCode } from '../protocol/error-codes.js';
import type { Seq } from '../protocol/packet-types.js';
import type { Failure, Routed } from '../routing/attempts.js';

/** Where a job's one answer goes: the client connection it came from. */
export interface AnswerPort {
  /** True once the client has gone: its answers are dropped, its jobs not retried. */
  readonly closed: boolean;
  /**
   * Delivers the job's one answer when it is the server's reply (`job.reply`, from `server`):
   * the port encodes it, once, so that the packet hooks in front of the client see the reply
   * itself and not a line to parse again.
   */
  replied(job: Job, server: number): void;
  /** Delivers the job's one answer as an encoded line (an error, or '' for none) and frees its in-flight slot. */
  answer(job: Job, line: string): void;
}

/**
 * One client packet on its way through the broker. Its forward line is encoded once and sent
 * unchanged to every server it is tried on; the attempt policy guarantees exactly one answer.
 */
export interface Job extends Routed<ErrorCode> {
  readonly client: AnswerPort;
  readonly seq: Seq | undefined;
  readonly srcid: number;
  /** The broker's request id, unique per broker, echoed by servers with maxInflight > 1. */
  readonly rid: number;
  readonly line: string;
  /** performance.now() when accepted, for the latency histogram (sub-millisecond). */
  readonly startedAt: number;
  /** When the job was last written to a server, for --server-timeout. */
  sentAt: number;
  /** The payload of the server's reply, once it came. */
  reply: string;
  lastFailure: Failure<ErrorCode> | undefined;
}
