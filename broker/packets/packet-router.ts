/**
 * The packet path's adapter over the routing core: it turns client packets into jobs for the
 * attempt policy, sends them on the servers' links, and turns what the links report (a reply,
 * a lost connection) into answered and failed attempts. Which server, how many tries, and the
 * one answer per job are the core's (routing/attempts.ts); the links, their dialing, probing
 * and timeouts are this file's.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeError } from '../protocol/encode.js';
import type { ClientPacket, ReplyPacket } from '../protocol/packet-types.js';
import type { Membership } from '../registry/membership.js';
import type { RemovalReason } from '../registry/store.js';
import { AttemptPolicy, type Failure, type Outcome, type Readiness, type Transport } from '../routing/attempts.js';
import { CONNECTED, LOST, Liveness, UNREACHABLE } from '../routing/liveness.js';
import type { Endpoint, Member, MemberState } from '../routing/member.js';
import type { PolicyTable, TableObserver } from '../routing/policy-table.js';
import type { BrokerOptions } from '../options.js';
import type { Counters } from '../routing/counters.js';
import type { Logger } from '../support/logger.js';
import type { Tracer } from '../trace/tracer.js';
import type { ConnectionOptions } from 'node:tls';
import { serverTls } from '../support/tls-files.js';
import { newJob, outcomeError, type AnswerPort, type Job } from './job.js';
import { ServerLink, type LinkEvents } from './server-link.js';

export class PacketRouter implements LinkEvents, Transport<Job, ErrorCode>, TableObserver {
  readonly protocol = 'packets' as const;
  private nextRid = 1;
  private readonly links = new Map<Endpoint, ServerLink>();
  private readonly attempts: AttemptPolicy<Job, ErrorCode>;
  accepting = true;
  /** How servers that registered with `tls: true` are dialed. */
  private readonly serverTls: ConnectionOptions;
  /** The rules that move a packet endpoint's state (routing/liveness.ts): the links report to them. */
  private readonly liveness: Liveness;
  /** Why the member being removed now leaves, for its link's log line. */
  private removing: string | undefined;

  constructor(
    table: PolicyTable,
    /** Who is in each policy: a server leaves or drains by asking it (it tells the store). */
    private readonly membership: Membership,
    private readonly options: BrokerOptions,
    private readonly stats: Counters,
    private readonly log: Logger,
    private readonly trace: Tracer,
  ) {
    this.serverTls = serverTls(options);
    this.attempts = new AttemptPolicy(table, this, options.maxAttempts);
    this.liveness = new Liveness(table);
  }

  /** Takes a validated client packet from a connection and routes it. */
  accept(client: AnswerPort, packet: ClientPacket): void {
    const job = newJob(client, packet, this.nextRid++);
    this.stats.received++;
    if (this.accepting) this.attempts.start(job);
    else this.attempts.refuse(job, { code: ErrorCode.UNAVAILABLE, message: 'the broker is shutting down', retry: false });
  }

  /**
   * Stops giving a server new packets; removes it once its in-flight packets are answered.
   * Queued packets move to other servers at once.
   */
  drainServer(member: Member, reason: string): void {
    const endpoint = member.packets;
    if (endpoint === undefined || !member.present) return;
    this.log.info('server draining', { id: member.id, policy: member.policy, reason });
    // stateChanged() moves its queued packets.
    this.membership.drain(member);
    if (endpoint.outstanding === 0) this.removeServer(member, reason);
  }

  /** Removes a server now; whatever it held goes to other servers of its policy. */
  removeServer(member: Member, reason: string, why: RemovalReason = { kind: 'left', detail: reason }): void {
    if (!member.present) return;
    this.removing = reason;
    this.membership.leave(member, why);
    this.removing = undefined;
    this.log.info('server removed', { id: member.id, policy: member.policy, reason });
  }

  /** Fails links whose oldest packet has waited longer than --server-timeout. */
  sweepTimeouts(now: number): void {
    const limit = this.options.serverTimeoutMs;
    for (const link of this.links.values()) {
      const oldest = link.oldestSentAt();
      if (oldest !== undefined && now - oldest > limit) link.fail(`no answer within ${limit} ms`, true);
    }
  }

  /** Closes every link; for shutdown, once nothing is in flight. */
  closeAll(): void {
    for (const [endpoint, link] of this.links) {
      this.reroute(link.takeQueued(), endpoint, ErrorCode.UNAVAILABLE);
      link.close();
    }
    this.links.clear();
  }

  // TableObserver: a server with a packet port gets a link, dialed at once; a server that left loses it.

  added(member: Member): void {
    const endpoint = member.packets;
    if (endpoint === undefined) return;
    const tls = member.info.tls ? this.serverTls : undefined;
    const link = new ServerLink(endpoint, this.options.maxPacketBytes, this.options.serverQueueLimit, this, tls);
    this.links.set(endpoint, link);
    link.connect();
  }

  removed(member: Member): void {
    const link = member.packets === undefined ? undefined : this.links.get(member.packets);
    if (link === undefined) return;
    // fail() reports the in-flight jobs to disconnected(), which re-routes them and forgets the link.
    if (link.isConnected || link.isDialing) link.fail(this.removing ?? 'registered again', false);
    else this.forget(link, ErrorCode.UNAVAILABLE);
  }

  /**
   * The same server registered again (e.g. it moved to another broker): its link and what it
   * holds stay. An endpoint that was draining takes work again, up at once if its link is.
   */
  renewed(member: Member): void {
    const endpoint = member.packets;
    const link = endpoint === undefined ? undefined : this.links.get(endpoint);
    if (link === undefined) return;
    if (endpoint!.state === 'connecting' && link.isConnected) this.liveness.report(endpoint!, CONNECTED);
    link.resume();
  }

  /** Drained by the operator: its queued packets go elsewhere; disabled: as after a failure, its in-flight ones too. */
  adminChanged(member: Member): void {
    const link = member.packets === undefined ? undefined : this.links.get(member.packets);
    if (link === undefined || member.admin === 'enabled') return;
    // (A link that never answered would be dropped by a failure: it only loses its queue.)
    if (member.admin === 'disabled' && link.isConnected && link.everAnswered) link.fail('disabled by the operator', false);
    else this.reroute(link.takeQueued(), member.packets!, ErrorCode.UNAVAILABLE);
  }

  stateChanged(endpoint: Endpoint, from: MemberState): void {
    if (endpoint.protocol === 'packets' && endpoint.state === 'draining' && from !== 'draining') {
      // Its queued packets go elsewhere at once; the last reply in flight removes it (reply()).
      const link = this.links.get(endpoint);
      if (link !== undefined) this.reroute(link.takeQueued(), endpoint, ErrorCode.UNAVAILABLE);
    }
  }

  // Transport

  readiness(endpoint: Endpoint): Readiness {
    const link = this.links.get(endpoint);
    if (link === undefined || !link.hasRoom()) return 'full';
    return link.isConnected ? 'ready' : 'later';
  }

  send(job: Job, endpoint: Endpoint): void {
    this.links.get(endpoint)!.submit(job);
  }

  rerouted(job: Job): void {
    this.stats.countReroute(job.policy);
  }

  attemptFailed(job: Job, endpoint: Endpoint, failure: Failure<ErrorCode>): void {
    if (this.trace.on) this.trace.rerouted(job, endpoint, failure.code);
  }

  delivered(job: Job, endpoint: Endpoint): void {
    this.stats.countAnswer(job.policy, job.startedAt);
    if (this.trace.on) this.trace.packet(job, endpoint, 'reply');
    if (job.client.closed) this.stats.dropped++;
    job.client.replied(job, endpoint.member.id!);
  }

  settle(job: Job, outcome: Outcome<ErrorCode>): void {
    const error = outcomeError(outcome, job.policy);
    if (error === undefined) this.finish(job, '');
    else this.fail(job, error.code, error.message);
  }

  // LinkEvents

  connected(link: ServerLink): void {
    const { endpoint } = link;
    if (this.liveness.report(endpoint, CONNECTED) === 'up') {
      this.log.info('server up', { id: endpoint.member.id, policy: endpoint.member.policy, address: endpoint.address });
    }
  }

  reply(link: ServerLink, job: Job, reply: ReplyPacket): void {
    const { endpoint } = link;
    job.reply = reply.payload;
    this.attempts.answered(job, endpoint);
    if (endpoint.state === 'draining' && endpoint.outstanding === 0) this.removeServer(endpoint.member, 'drained');
  }

  disconnected(link: ServerLink, inflight: Job[], reason: string, timedOut: boolean): void {
    const { endpoint } = link;
    const member = endpoint.member;
    this.liveness.report(endpoint, LOST);
    const code = timedOut ? ErrorCode.TIMEOUT : ErrorCode.UNAVAILABLE;
    const stillDialingNewServer =
      member.present && !link.everConnected && endpoint.state === 'connecting' && Date.now() - member.info.registeredAt < this.options.dialRetryMs;
    if (stillDialingNewServer) {
      // A classic server listens only after registering: dial again soon. Its queued packets
      // go to a connected server of the policy if there is one, else wait here.
      this.reroute(inflight, endpoint, code);
      this.reroute(link.takeQueued(), endpoint, code);
      link.redialLater();
      return;
    }
    // A server removed on purpose (a graceful leave, a drain) has had its info line already.
    if (member.present && (inflight.length > 0 || endpoint.state !== 'down')) {
      const fields = { id: member.id, policy: member.policy, reason, inflight: inflight.length };
      if (endpoint.state === 'draining' && inflight.length === 0) this.log.info('server left while draining', fields);
      else this.log.warn('server connection lost', fields);
    }
    // Take the server out of selection before re-routing, so its jobs cannot pick it again.
    if (!member.present || endpoint.state === 'draining' || !member.info.session) {
      // Classic servers stay only while reachable; removed and draining ones are done.
      if (this.takeOut(member, { kind: 'left', detail: reason })) this.log.info('server removed', { id: member.id, policy: member.policy, reason });
      this.reroute(inflight, endpoint, code);
      this.forget(link, code);
      return;
    }
    if (!link.everAnswered) {
      // It never answered anything: whatever listens there does not speak the protocol.
      this.log.warn('server dropped: it never answered a packet', { id: member.id, policy: member.policy, reason });
      this.takeOut(member, { kind: 'dropped', detail: reason });
      this.reroute(inflight, endpoint, code);
      this.forget(link, code);
      return;
    }
    this.liveness.report(endpoint, UNREACHABLE);
    this.reroute(inflight, endpoint, code);
    this.reroute(link.takeQueued(), endpoint, code);
    link.redialLater();
  }

  /** Removes a member whose link is being torn down here (its removal must not fail the link again); false when it was gone. */
  private takeOut(member: Member, why: RemovalReason): boolean {
    if (!member.present) return false;
    this.links.delete(member.packets!);
    this.membership.leave(member, why);
    return true;
  }

  private forget(link: ServerLink, code: ErrorCode): void {
    this.reroute(link.takeQueued(), link.endpoint, code);
    link.close();
    if (this.links.get(link.endpoint) === link) this.links.delete(link.endpoint);
  }

  /** Hands jobs that lost their server back to the attempt policy. */
  private reroute(jobs: Job[], from: Endpoint, code: ErrorCode): void {
    for (const job of jobs) {
      const what = code === ErrorCode.TIMEOUT ? 'timed out' : 'failed';
      // A job whose client has gone is not worth another server.
      const retry = !job.client.closed;
      this.attempts.failed(job, from, { code, message: `server ${from.member.id} ${what} and ${job.attempts} attempts are spent`, retry });
    }
  }

  private fail(job: Job, code: ErrorCode, message: string): void {
    if (!job.client.closed) {
      this.stats.countError(code, job.policy, message);
      if (this.trace.on) this.trace.packet(job, undefined, code);
    }
    this.finish(job, encodeError(code, message, job.seq));
  }

  private finish(job: Job, line: string): void {
    if (job.client.closed) this.stats.dropped++;
    job.client.answer(job, line);
  }
}
