/**
 * A server's session with the broker: the registration connection, kept open. It registers,
 * sends heartbeats, and when the connection drops (the broker restarted) dials again with a
 * short capped backoff and registers again, until leave() or close(). Given several brokers
 * (sharing one registry), a lost session or a failed dial moves on to the next one.
 *
 * A broker whose host is cut off raises no error on the connection: heartbeats are buffered and
 * retransmitted for many minutes. So heartbeats ask for an answer (`echo`), and a session whose
 * broker has answered echoes but then stays silent for `silenceMs` is dropped like a lost one.
 */
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { encodeLine } from '../broker/protocol/encode.js';
import type { RegistrationPacket } from '../broker/protocol/packet-types.js';
import { LineReader } from '../broker/support/line-reader.js';
import type { Logger } from '../broker/support/logger.js';
import { SilenceWatch } from '../broker/support/silence-watch.js';
import { STOPPED, ServerError } from './errors.js';
import type { BrokerAddress } from './options.js';


export interface SessionSettings {
  /** The brokers to register with, in turn: the first, and the next whenever one is lost. */
  brokers: BrokerAddress[];
  /**
   * The address to register from. The broker dials back the address a registration came from,
   * so a server listening on one specific address must register from it.
   */
  localAddress?: string;
  /** TLS to the broker; undefined for plain TCP. */
  tls?: ConnectionOptions;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  registerTimeoutMs: number;
  /**
   * A registered session silent for this long is taken for lost; undefined: 3 heartbeat
   * periods, at least 1 s; 0: off.
   */
  silenceMs?: number;
  /** Heartbeat period when the broker's answer does not name one. */
  defaultHeartbeatMs: number;
  maxLineLength: number;
  logger: Logger;
}

export interface SessionEvents {
  /** The broker accepted a registration; `again` is true from the second one on. */
  registered: [info: { heartbeatMs: number; again: boolean }];
  /** A registered session's connection closed. */
  lost: [];
}

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class BrokerSession extends EventEmitter<SessionEvents> {
  private socket: Socket | null = null;
  private isRegistered = false;
  private registrations = 0;
  private stopped = false;
  private backoffMs: number;
  /** The broker of `settings.brokers` being used. */
  private current = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private answerTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** Watches a registered session for a broker gone silent. */
  private watch: SilenceWatch | null = null;
  /** True once the broker of the open connection answered an echo: it can be watched. */
  private echoing = false;
  /** True when the broker dropped the registered session with an error: retry with backoff. */
  private droppedByBroker = false;
  /** True when the broker in use answered the last registration with a refusal: it is alive, retry it. */
  private refusedByBroker = false;
  /** The last connection failure logged at warn, so a long outage logs once, not twice a second. */
  private lastFailure: string | null = null;
  private firstStart: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(
    private readonly registration: RegistrationPacket,
    private readonly settings: SessionSettings,
  ) {
    super();
    this.backoffMs = settings.reconnectMinMs;
  }

  /** True while the broker holds a registration made on the open connection. */
  get registered(): boolean {
    return this.isRegistered;
  }

  /**
   * Dials and registers. Resolves at the first successful registration, retrying unreachable
   * brokers forever; rejects with a ServerError carrying the broker's code when it refuses the
   * registration, or STOPPED when leave() or close() comes first.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstStart = { resolve, reject };
      this.attempt();
    });
  }

  /** Sends the leave packet (when registered) and stops reconnecting; the connection stays open. */
  leave(): void {
    if (this.isRegistered && this.socket !== null) {
      this.socket.write(encodeLine({ type: 6, id: this.registration.id }));
      this.settings.logger.info('leaving the broker', { id: this.registration.id });
    }
    this.halt();
  }

  /** Stops reconnecting and closes the connection; resolves once it is closed. */
  close(): Promise<void> {
    this.halt();
    const socket = this.socket;
    if (socket === null || socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  private halt(): void {
    this.stopped = true;
    this.clearTimer('retryTimer');
    this.clearTimer('heartbeatTimer');
    // Heartbeats stop: the silence that follows is ours, not the broker's.
    this.stopWatch();
    this.settleStart(new ServerError(STOPPED, 'the server was stopped before it registered'));
  }

  private attempt(): void {
    this.retryTimer = null;
    if (this.stopped) return;
    const { host, port } = this.broker;
    const localAddress = this.settings.localAddress;
    const socket: Socket =
      this.settings.tls === undefined
        ? net.connect({ host, port, localAddress })
        : tls.connect({ ...this.settings.tls, host, socket: net.connect({ host, port, localAddress }) });
    this.socket = socket;
    socket.setNoDelay(true);
    let failure: Error | undefined;
    socket.on('error', (err) => {
      failure = err;
    });
    // A broker address that drops SYNs would hold the attempt for the kernel's retries (minutes):
    // connecting gets the same bound as the answer, and the attempt fails and is retried.
    this.answerTimer = setTimeout(() => {
      socket.destroy(new Error(`could not connect to the broker within ${this.settings.registerTimeoutMs} ms`));
    }, this.settings.registerTimeoutMs);
    socket.once(this.settings.tls === undefined ? 'connect' : 'secureConnect', () => {
      this.clearTimer('answerTimer');
      socket.setKeepAlive(true, 1000);
      socket.write(encodeLine(this.registration));
      this.answerTimer = setTimeout(() => {
        socket.destroy(new Error(`no answer to the registration within ${this.settings.registerTimeoutMs} ms`));
      }, this.settings.registerTimeoutMs);
    });
    socket.once('close', () => this.onClose(socket, failure));
    new LineReader(socket, (packet) => this.onPacket(socket, packet), {
      maxLineLength: this.settings.maxLineLength,
      onFramingError: (err) => this.settings.logger.warn('unreadable line from the broker', { error: err.message }),
    });
  }

  private onPacket(socket: Socket, packet: Record<string, unknown>): void {
    if (socket !== this.socket) return;
    this.watch?.heard();
    const type = Number(packet.type);
    if (type === 5) {
      // The answer to a heartbeat's echo.
      this.echoing = true;
    } else if (type === 4 && !this.isRegistered) {
      this.onRegistered(socket, packet);
    } else if (type === 3 && !this.isRegistered) {
      this.onRefused(socket, packet);
    } else if (type === 3) {
      // BAD_SERVER: the broker could not use the listen port and will close the session.
      if (packet.code === 'BAD_SERVER') this.droppedByBroker = true;
      this.settings.logger.warn('the broker reported an error on the session', { code: packet.code, message: packet.message });
    } else {
      this.settings.logger.debug('ignored a packet on the session', { type: packet.type });
    }
  }

  private onRegistered(socket: Socket, answer: Record<string, unknown>): void {
    this.clearTimer('answerTimer');
    this.isRegistered = true;
    this.registrations++;
    this.lastFailure = null;
    const heartbeatMs =
      typeof answer.heartbeatMs === 'number' && Number.isSafeInteger(answer.heartbeatMs) && answer.heartbeatMs > 0
        ? answer.heartbeatMs
        : this.settings.defaultHeartbeatMs;
    const heartbeat = encodeLine({ type: 5, id: this.registration.id, echo: true });
    this.watch = this.watchSilence(socket, heartbeatMs);
    this.heartbeatTimer = setInterval(() => {
      // A registration that lasted a heartbeat is sound: the next failure starts the backoff afresh.
      this.backoffMs = this.settings.reconnectMinMs;
      socket.write(heartbeat);
      this.watch?.sent();
    }, heartbeatMs);
    const again = this.registrations > 1;
    const { id, privPolyId: policy, listenport } = this.registration;
    this.settings.logger.info(again ? 're-registered with the broker' : 'registered with the broker', { id, policy, listenport, heartbeatMs });
    this.emit('registered', { heartbeatMs, again });
    this.settleStart();
  }

  /** A watch that drops the session when a broker that answers echoes stops answering. */
  private watchSilence(socket: Socket, heartbeatMs: number): SilenceWatch | null {
    const limitMs = this.settings.silenceMs ?? Math.max(3 * heartbeatMs, 1000);
    if (limitMs === 0) return null;
    // Brokers that predate echoes answer nothing: such a session is not watched.
    return new SilenceWatch(limitMs, () => this.echoing, (quietMs) => {
      const { host, port } = this.broker;
      this.settings.logger.warn('the broker went silent, dropping the session', { id: this.registration.id, broker: `${host}:${port}`, quietMs: Math.round(quietMs) });
      socket.destroy(new Error(`no answer from the broker for ${Math.round(quietMs)} ms`));
    });
  }

  private onRefused(socket: Socket, answer: Record<string, unknown>): void {
    const code = typeof answer.code === 'string' ? answer.code : 'REFUSED';
    const message = `the broker refused registration of server ${this.registration.id}: ${code} ${String(answer.message ?? '')}`.trim();
    if (this.stopped) {
      // Stopped meanwhile (e.g. the rest of a pool after one refusal): nothing to report.
    } else if (code === 'OVERLOADED') {
      // Too many registrations at once (the broker's rate limit): transient, retried with backoff.
      this.settings.logger.info('the broker is busy registering; retrying', { id: this.registration.id, message: answer.message });
    } else if (this.firstStart !== null) {
      // At start a refusal is final: the caller hears about it and decides.
      this.settleStart(new ServerError(code, message));
      this.halt();
    } else {
      // After a broker restart it may be transient (the old record still live, e.g. through a
      // broker that went silent, until it expires): keep trying this broker, which answers.
      this.settings.logger.error(message, { id: this.registration.id, code });
      this.refusedByBroker = true;
    }
    socket.destroy();
  }

  private onClose(socket: Socket, failure: Error | undefined): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.clearTimer('answerTimer');
    this.clearTimer('heartbeatTimer');
    this.stopWatch();
    const wasRegistered = this.isRegistered;
    this.isRegistered = false;
    if (wasRegistered) {
      if (!this.stopped) this.settings.logger.warn('lost the broker session', { id: this.registration.id, error: failure?.message });
      this.emit('lost');
    }
    if (this.stopped) return;
    if (!wasRegistered) this.logFailure(failure);
    // Another broker shares the registry: register there rather than wait for this one; but a
    // broker that just answered is alive, and going back to one that went silent could hang.
    const refused = this.refusedByBroker;
    this.refusedByBroker = false;
    if (this.settings.brokers.length > 1 && !refused) this.current = (this.current + 1) % this.settings.brokers.length;
    const dropped = this.droppedByBroker;
    this.droppedByBroker = false;
    this.scheduleRetry(wasRegistered && !dropped ? this.settings.reconnectMinMs : this.nextBackoff());
  }

  private logFailure(failure: Error | undefined): void {
    const { host, port } = this.broker;
    const reason = failure?.message ?? 'connection closed before the registration was answered';
    const fields = { id: this.registration.id, broker: `${host}:${port}`, error: reason };
    if (reason !== this.lastFailure) {
      this.settings.logger.warn('cannot register with the broker, retrying', fields);
      this.lastFailure = reason;
    } else {
      this.settings.logger.debug('cannot register with the broker, retrying', fields);
    }
  }

  /** The broker in use. */
  get broker(): BrokerAddress {
    return this.settings.brokers[this.current]!;
  }

  private nextBackoff(): number {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.settings.reconnectMaxMs);
    return delay;
  }

  private scheduleRetry(delayMs: number): void {
    // A little jitter so a pool of servers does not dial a restarted broker in lockstep.
    const jittered = Math.max(1, Math.round(delayMs * (0.75 + Math.random() * 0.25)));
    this.retryTimer = setTimeout(() => this.attempt(), jittered);
  }

  private settleStart(err?: Error): void {
    const pending = this.firstStart;
    if (pending === null) return;
    this.firstStart = null;
    if (err === undefined) pending.resolve();
    else pending.reject(err);
  }

  private stopWatch(): void {
    this.watch?.stop();
    this.watch = null;
    this.echoing = false;
  }

  private clearTimer(name: 'retryTimer' | 'answerTimer' | 'heartbeatTimer'): void {
    const timer = this[name];
    if (timer !== null) {
      clearTimeout(timer);
      this[name] = null;
    }
  }
}
