import { ErrorCode } from '../protocol/error-codes.js';
import { forwardLine, type ForwardLine } from '../protocol/encode.js';
import type { ClientPacket, Seq } from '../protocol/packet-types.js';
import type { Failure, Outcome, Routed } from '../routing/attempts.js';

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
  /** Its forward line: text, or the frame's own bytes for a long payload's literal. */
  readonly line: ForwardLine;
  /** performance.now() when accepted, for the latency histogram (sub-millisecond). */
  readonly startedAt: number;
  /** When the job was last written to a server, for --server-timeout. */
  sentAt: number;
  /** The payload of the server's reply, once it came. */
  reply: string;
  lastFailure: Failure<ErrorCode> | undefined;
}

/** A job for `packet` from `client`, under the broker's request id `rid`: its forward line encoded now, once. */
export function newJob(client: AnswerPort, packet: ClientPacket, rid: number): Job {
  return {
    client,
    seq: packet.seq,
    srcid: packet.srcid,
    policy: packet.policy,
    rid,
    line: forwardLine(packet, rid),
    startedAt: performance.now(),
    attempts: 0,
    sentAt: 0,
    reply: '',
    lastFailure: undefined,
    done: false,
  };
}

/** The error a job of `policy` is answered with when no server answered it; undefined when it is answered with nothing (abandoned). */
export function outcomeError(outcome: Outcome<ErrorCode>, policy: number): { code: ErrorCode; message: string } | undefined {
  switch (outcome.kind) {
    case 'no-server': {
      if (outcome.after !== undefined) return { code: outcome.after.code, message: `no other live server for policy ${policy} after a failure` };
      const why = outcome.missing === 'unknown-policy' ? 'no server registered' : 'no live server';
      return { code: ErrorCode.NO_SERVER, message: `${why} for policy ${policy}` };
    }
    case 'overloaded':
      return { code: ErrorCode.OVERLOADED, message: `the servers of policy ${policy} have too many packets queued` };
    case 'failed':
      return outcome.failure;
    case 'abandoned':
      return undefined;
  }
}
