/**
 * The packet data path: for each client packet, pick a live server of its policy, hand it to
 * that server's link, and route the one answer back. When a link fails, its in-flight and
 * queued packets go to other live servers of the same policy (bounded attempts), never to
 * another policy, and never get lost: every job ends in exactly one answer.
 */
import { ErrorCode } from '../protocol/error-codes.js';
import { encodeError, encodeForward, encodeReply } from '../protocol/encode.js';
import type { ClientPacket, ReplyPacket } from '../protocol/packet-types.js';
import type { Registry } from '../registry/registry.js';
import type { ServerRecord } from '../registry/server-record.js';
import type { BrokerOptions } from '../options.js';
import type { PacketStats } from '../stats.js';
import type { Logger } from '../support/logger.js';
import type { ConnectionOptions } from 'node:tls';
import { serverTls } from '../support/tls-files.js';
import type { AnswerPort, Job } from './job.js';
import { ServerLink, type LinkEvents } from './server-link.js';

/** Picks tried when the chosen server's queue is full, before answering OVERLOADED. */
const PICKS_PER_ROUTE = 3;
const REDIAL_MIN_MS = 25;
const REDIAL_MAX_MS = 2000;

export class PacketRouter implements LinkEvents {
  private nextRid = 1;
  private readonly links = new Map<ServerRecord, ServerLink>();
  private readonly redialTimers = new Map<ServerLink, NodeJS.Timeout>();
  /** Jobs accepted and not yet answered, across all clients. */
  outstanding = 0;
  accepting = true;
  /**
   * Called when a session server is dropped because it never answered a packet: its port
   * belongs to something that does not speak the protocol (or nothing at all).
   */
  onDropped: ((record: ServerRecord, reason: string) => void) | undefined;
  /** How servers that registered with `tls: true` are dialed. */
  private readonly serverTls: ConnectionOptions;

  constructor(
    private readonly registry: Registry,
    private readonly options: BrokerOptions,
    private readonly stats: PacketStats,
    private readonly log: Logger,
  ) {
    this.serverTls = serverTls(options);
  }

  /** Takes a validated client packet from a connection and routes it. */
  accept(client: AnswerPort, packet: ClientPacket): void {
    const rid = this.nextRid++;
    // One clock read for both (performance.now() is the finer one, for the latency histogram).
    const startedAt = performance.now();
    const job: Job = {
      client,
      seq: packet.seq,
      srcid: packet.srcid,
      policy: packet.policy,
      rid,
      line: encodeForward(packet.srcid, packet.policy, packet.payload, rid),
      receivedAt: performance.timeOrigin + startedAt,
      startedAt,
      attempts: 0,
      sentAt: 0,
      lastFailure: undefined,
      done: false,
    };
    this.outstanding++;
    this.stats.received++;
    if (!this.accepting) this.fail(job, ErrorCode.UNAVAILABLE, 'the broker is shutting down');
    else this.route(job);
  }

  /** Starts serving a newly registered server: its link dials at once. */
  addServer(record: ServerRecord): void {
    const link = new ServerLink(record, this.options.maxPacketBytes, this.options.serverQueueLimit, this, record.tls ? this.serverTls : undefined);
    this.links.set(record, link);
    link.connect();
  }

  /**
   * Stops giving a server new packets; removes it once its in-flight packets are answered.
   * Queued packets move to other servers at once.
   */
  drainServer(record: ServerRecord, reason: string): void {
    const link = this.links.get(record);
    if (link === undefined) return;
    this.registry.setState(record, 'draining');
    this.log.info('server draining', { id: record.id, policy: record.policy, reason });
    this.reroute(this.takeQueued(link), record, ErrorCode.UNAVAILABLE);
    if (link.load === 0) this.removeServer(record, reason);
  }

  /** Removes a server now; whatever it held goes to other servers of its policy. */
  removeServer(record: ServerRecord, reason: string): void {
    const wasRegistered = this.registry.remove(record);
    const link = this.links.get(record);
    if (link === undefined) return;
    if (wasRegistered) this.log.info('server removed', { id: record.id, policy: record.policy, reason });
    // fail() reports the in-flight jobs to disconnected(), which re-routes them and forgets the link.
    if (link.isConnected || link.isDialing) link.fail(reason, false);
    else this.forget(link, ErrorCode.UNAVAILABLE);
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
    for (const timer of this.redialTimers.values()) clearTimeout(timer);
    this.redialTimers.clear();
    for (const [record, link] of this.links) {
      this.reroute(this.takeQueued(link), record, ErrorCode.UNAVAILABLE);
      link.close();
    }
    this.links.clear();
  }

  linkOf(record: ServerRecord): ServerLink | undefined {
    return this.links.get(record);
  }

  // LinkEvents

  connected(link: ServerLink): void {
    const { record } = link;
    if (record.state === 'connecting' || record.state === 'down') {
      this.registry.setState(record, 'up');
      this.log.info('server up', { id: record.id, policy: record.policy, address: `${record.host}:${record.port}` });
    }
  }

  reply(link: ServerLink, job: Job, reply: ReplyPacket): void {
    const { record } = link;
    this.registry.addOutstanding(record, -1);
    record.served++;
    if (!job.done) {
      this.stats.countReply(job.policy, job.startedAt);
      this.finish(job, encodeReply(record.id, job.srcid, reply.payload, job.seq));
    }
    if (record.state === 'draining' && link.load === 0) this.removeServer(record, 'drained');
  }

  disconnected(link: ServerLink, inflight: Job[], reason: string, timedOut: boolean): void {
    const { record } = link;
    for (let i = 0; i < inflight.length; i++) this.registry.addOutstanding(record, -1);
    record.failures++;
    const code = timedOut ? ErrorCode.TIMEOUT : ErrorCode.UNAVAILABLE;
    const registered = this.registry.get(record.id) === record;
    const stillDialingNewServer =
      registered && !link.everConnected && record.state === 'connecting' && Date.now() - record.registeredAt < this.options.dialRetryMs;
    if (stillDialingNewServer) {
      // A classic server listens only after registering: dial again soon. Its queued packets
      // go to a connected server of the policy if there is one, else wait here.
      this.reroute(inflight, record, code);
      this.reroute(this.takeQueued(link), record, code);
      this.scheduleRedial(link);
      return;
    }
    // A server removed on purpose (a graceful leave, a drain) has had its info line already.
    if (registered && (inflight.length > 0 || record.state !== 'down')) {
      const fields = { id: record.id, policy: record.policy, reason, inflight: inflight.length };
      if (record.state === 'draining' && inflight.length === 0) this.log.info('server left while draining', fields);
      else this.log.warn('server connection lost', fields);
    }
    // Take the server out of selection before re-routing, so its jobs cannot pick it again.
    if (!registered || record.state === 'draining' || !record.session) {
      // Classic servers stay only while reachable; removed and draining ones are done.
      if (this.registry.remove(record)) this.log.info('server removed', { id: record.id, policy: record.policy, reason });
      this.reroute(inflight, record, code);
      this.forget(link, code);
      return;
    }
    if (!link.everAnswered) {
      // It never answered anything: whatever listens there does not speak the protocol.
      this.registry.remove(record);
      this.log.warn('server dropped: it never answered a packet', { id: record.id, policy: record.policy, reason });
      this.reroute(inflight, record, code);
      this.forget(link, code);
      this.onDropped?.(record, reason);
      return;
    }
    this.registry.setState(record, 'down');
    this.reroute(inflight, record, code);
    this.reroute(this.takeQueued(link), record, code);
    this.scheduleRedial(link);
  }

  /** Takes a link's queued jobs off its server's outstanding count, for re-routing. */
  private takeQueued(link: ServerLink): Job[] {
    const jobs = link.takeQueued();
    for (let i = 0; i < jobs.length; i++) this.registry.addOutstanding(link.record, -1);
    return jobs;
  }

  private forget(link: ServerLink, code: ErrorCode): void {
    this.reroute(this.takeQueued(link), link.record, code);
    const timer = this.redialTimers.get(link);
    if (timer !== undefined) clearTimeout(timer);
    this.redialTimers.delete(link);
    link.close();
    if (this.links.get(link.record) === link) this.links.delete(link.record);
  }

  private scheduleRedial(link: ServerLink): void {
    if (this.redialTimers.has(link)) return;
    const delay = Math.min(REDIAL_MAX_MS, REDIAL_MIN_MS * 2 ** Math.min(link.failuresInRow, 10));
    const timer = setTimeout(() => {
      this.redialTimers.delete(link);
      if (this.links.get(link.record) === link) link.connect();
    }, delay);
    timer.unref();
    this.redialTimers.set(link, timer);
  }

  /**
   * Picks a server for the job and hands it over, or answers with the reason none could take it.
   * A server still being dialed (just registered) only gets the job when no connected one turns
   * up within the picks, so an unreachable registration cannot hold packets while others serve.
   */
  private route(job: Job): void {
    let dialing: ServerRecord | undefined;
    for (let pickNo = 0; pickNo < PICKS_PER_ROUTE; pickNo++) {
      const pick = this.registry.pick(job.policy);
      if ('missing' in pick) {
        if (job.lastFailure !== undefined) {
          this.fail(job, job.lastFailure, `no other live server for policy ${job.policy} after a failure`);
        } else {
          const why = pick.missing === 'unknown-policy' ? 'no server registered' : 'no live server';
          this.fail(job, ErrorCode.NO_SERVER, `${why} for policy ${job.policy}`);
        }
        return;
      }
      const server = pick.server;
      const link = this.links.get(server);
      if (link === undefined || !link.hasRoom()) continue;
      if (!link.isConnected) {
        dialing ??= server;
        continue;
      }
      this.registry.addOutstanding(server, 1);
      link.submit(job);
      return;
    }
    if (dialing !== undefined) {
      this.registry.addOutstanding(dialing, 1);
      this.links.get(dialing)!.submit(job);
      return;
    }
    this.fail(job, ErrorCode.OVERLOADED, `the servers of policy ${job.policy} have too many packets queued`);
  }

  /** Sends jobs that lost their server to another one, or answers them when attempts are spent. */
  private reroute(jobs: Job[], from: ServerRecord, code: ErrorCode): void {
    for (const job of jobs) {
      if (job.done) continue;
      job.lastFailure = code;
      if (job.client.closed) {
        this.finish(job, '');
      } else if (job.attempts >= this.options.maxAttempts) {
        const what = code === ErrorCode.TIMEOUT ? 'timed out' : 'failed';
        this.fail(job, code, `server ${from.id} ${what} and ${job.attempts} attempts are spent`);
      } else {
        this.stats.countReroute(job.policy);
        this.route(job);
      }
    }
  }

  private fail(job: Job, code: ErrorCode, message: string): void {
    this.stats.countError(code, job.policy, message);
    this.finish(job, encodeError(code, message, job.seq));
  }

  private finish(job: Job, line: string): void {
    job.done = true;
    this.outstanding--;
    if (job.client.closed) this.stats.dropped++;
    job.client.answer(job, line);
  }
}
