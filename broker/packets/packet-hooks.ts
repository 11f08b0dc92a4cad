/**
 * The packet hooks, in front of the router: a captured packet goes through the onPacket hooks
 * (in order) before it is routed, and its reply through the onReply hooks (in reverse) before
 * it reaches the client. The run stands in for the client connection (an AnswerPort), so the
 * router is unchanged and still gives each packet exactly one answer; a hook that answers or
 * drops a packet gives that one answer instead, and the router never sees the packet.
 */
import type { AnswerPort, Job } from './job.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeError, encodeReply } from '../protocol/encode.js';
import type { ClientPacket } from '../protocol/packet-types.js';
import type { Logger } from '../support/logger.js';
import { describeFailure, isThenable, logFailure, runChain, type CallOutcome, type ChainFailure } from '../hooks/call.js';
import type { Hook } from '../hooks/check.js';
import { checkPolicy, PacketHookContext, ReplyHookContext, type PacketVerdict } from '../hooks/contexts.js';
import type { Interceptors } from '../hooks/interceptors.js';
import type { ReplyView } from '../hooks/interceptor.js';

/** The router's entry: routes a packet and answers `client` once. */
export type Route = (client: AnswerPort, packet: ClientPacket) => void;

/** The id a reply given by a hook carries as its srcid: no server sent it. */
export const HOOK_SERVER_ID = 0;

export class PacketHooks {
  constructor(
    readonly interceptors: Interceptors,
    readonly route: Route,
    readonly log: Logger,
  ) {}

  /** Takes a client packet: hooks first when one captures it, else straight to the router. */
  accept(client: AnswerPort, packet: ClientPacket): void {
    const hooks = this.interceptors.forPacket(packet.policy);
    if (hooks === undefined) this.route(client, packet);
    else new PacketRun(this, client, packet, hooks).start();
  }

  countsOf = (hook: Hook) => this.interceptors.counters.of(hook.name);

  logFailure(hook: Hook, phase: string, outcome: CallOutcome, error: Error): void {
    logFailure(this.log, hook, phase, outcome, error);
  }
}

/** One captured packet, from its arrival to its one answer. */
class PacketRun implements AnswerPort {
  private readonly states = new Map<Hook, Record<string, unknown>>();
  private packet: ClientPacket;
  private answered = false;

  constructor(
    private readonly owner: PacketHooks,
    private readonly client: AnswerPort,
    private readonly original: ClientPacket,
    private readonly hooks: readonly Hook[],
  ) {
    // The frame's text and bytes (packet.raw, rawBytes) are the broker's, not the hooks' to see: a captured packet
    // is encoded for its server as before.
    const { raw: _raw, rawBytes: _rawBytes, ...visible } = original;
    this.packet = visible;
    for (const hook of hooks) this.states.set(hook, {});
  }

  get closed(): boolean {
    return this.client.closed;
  }

  start(): void {
    const hooks = this.hooks.filter((hook) => hook.onPacket);
    let ctx: PacketHookContext | undefined;
    let verdict: PacketVerdict | undefined;
    runChain(
      hooks,
      this.owner.countsOf,
      {
        invoke: (hook) => {
          ctx = new PacketHookContext(hook.name, this.states.get(hook)!);
          const copy: ClientPacket = { ...this.packet };
          return then(hook.def.onPacket!(copy, ctx), (value) => checkPacket(value ?? copy));
        },
        commit: (hook, value) => {
          if (ctx!.verdict !== undefined) {
            this.owner.countsOf(hook).answered++;
            verdict = ctx!.verdict;
            return false;
          }
          const next = value as ClientPacket;
          if (next.policy !== this.packet.policy) {
            this.owner.countsOf(hook).policyChanges++;
            this.owner.log.info('interceptor changed the policy', { hook: hook.name, from: this.packet.policy, to: next.policy, srcid: next.srcid });
          }
          this.packet = { type: 0, srcid: this.original.srcid, policy: next.policy, payload: next.payload, seq: this.original.seq };
          return true;
        },
        failed: (hook, outcome, error) => this.owner.logFailure(hook, 'onPacket', outcome, error),
      },
      (failure) => this.routed(verdict, failure),
    );
  }

  private routed(verdict: PacketVerdict | undefined, failure: ChainFailure | undefined): void {
    const seq = this.original.seq;
    if (failure !== undefined) return this.finish(undefined, encodeError(ErrorCode.HOOK_FAILED, describeFailure(failure), seq));
    if (verdict !== undefined) {
      const line = 'answer' in verdict ? encodeReply(HOOK_SERVER_ID, this.original.srcid, verdict.answer, seq) : encodeError(verdict.error as ErrorCode, verdict.message, seq);
      return this.finish(undefined, line);
    }
    if (this.client.closed) return this.finish(undefined, '');
    if (this.hooks.some((hook) => hook.onReply)) {
      this.owner.route(this, this.packet);
    } else {
      this.answered = true;
      this.owner.route(this.client, this.packet);
    }
  }

  /** AnswerPort: the router's one answer for the packet when it is an error (or none). */
  answer(job: Job, line: string): void {
    this.finish(job, line);
  }

  /** AnswerPort: the server's reply goes through the onReply hooks as it is, then is encoded once. */
  replied(job: Job, server: number): void {
    if (this.client.closed) return this.finish(job, '');
    let reply: ReplyView = { server, policy: this.packet.policy, payload: job.reply };
    const hooks = this.hooks.filter((hook) => hook.onReply).reverse();
    runChain(
      hooks,
      this.owner.countsOf,
      {
        invoke: (hook) => {
          const copy: ReplyView = { ...reply };
          return then(hook.def.onReply!(copy, new ReplyHookContext(hook.name, this.states.get(hook)!, this.packet)), (value) => checkReply(value ?? copy));
        },
        commit: (_hook, value) => {
          reply = { ...reply, payload: (value as ReplyView).payload };
          return true;
        },
        failed: (hook, outcome, error) => this.owner.logFailure(hook, 'onReply', outcome, error),
      },
      (failure) => {
        const seq = this.original.seq;
        if (failure !== undefined) this.finish(job, encodeError(ErrorCode.HOOK_FAILED, describeFailure(failure), seq));
        else this.finish(job, encodeReply(reply.server, this.original.srcid, reply.payload, seq));
      },
    );
  }

  private finish(job: Job | undefined, line: string): void {
    if (this.answered) return;
    this.answered = true;
    // The connection ignores which job an answer is for; it counts one answer per packet.
    this.client.answer(job as Job, line);
  }
}

/** Applies `check` to a hook's result, now or when its promise resolves. */
function then(result: unknown, check: (value: unknown) => unknown): unknown {
  return isThenable(result) ? result.then(check) : check(result);
}

function checkPacket(value: unknown): unknown {
  const p = value as ClientPacket;
  if (typeof p !== 'object' || p === null || typeof p.payload !== 'string') throw new TypeError('onPacket must return a packet with a string payload, or nothing');
  checkPolicy(p.policy);
  return value;
}

function checkReply(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || typeof (value as ReplyView).payload !== 'string') throw new TypeError('onReply must return a reply with a string payload, or nothing');
  return value;
}

