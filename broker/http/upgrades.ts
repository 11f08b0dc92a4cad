/**
 * The front end's upgrade requests and the tunnels they become (docs/http.md, "WebSocket and
 * Upgrade"). Which tokens are proxied: `websocket` (RFC 6455), as an upgrade. Any other token
 * (`h2c`, anything unknown) is proxied as a plain request without its Upgrade header, its
 * answer relayed and the connection closed. An upgrade request with a body is refused (400).
 * Upgrades and their handshakes count with the requests in flight until the backend answers;
 * the tunnels, being client connections, count against --http-max-connections.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AttemptPolicy } from '../routing/attempts.js';
import type { Logger } from '../support/logger.js';
import type { AdmissionDecision } from './admission.js';
import type { ExchangeServices } from './exchange.js';
import { HttpErrorCode } from './http-errors.js';
import { HttpTransport } from './http-transport.js';
import type { Admission } from '../routing/admission.js';
import { rawError } from './raw-response.js';
import type { Tunnel } from './tunnel.js';
import { UpgradeExchange, type UpgradeServices } from './upgrade.js';
import { UpgradeCounters } from './upgrade-counters.js';

/** How long a socket answered with an error may linger for its answer to be read. */
const ERROR_CLOSE_GRACE_MS = 1000;

/** The Upgrade token proxied as an upgrade; others go as plain requests. */
const UPGRADED_TOKEN = 'websocket';

export class Upgrades {
  readonly counters = new UpgradeCounters();
  private readonly tunnels = new Set<Tunnel>();
  private readonly services: UpgradeServices;

  constructor(
    front: Omit<ExchangeServices, 'attempts'> & { readonly upgradeIdleMs: number; readonly maxAttempts: number },
    /** The front end's admission: a handshake is accepted until its backend answers, a tunnel held while open. */
    private readonly admission: Admission,
    private readonly log: Logger,
  ) {
    this.services = {
      attempts: new AttemptPolicy<UpgradeExchange, HttpErrorCode>(front.table, new HttpTransport<UpgradeExchange>(front.stats, front.trace, front.upstreams, front.health), front.maxAttempts),
      table: front.table,
      upstreams: front.upstreams,
      health: front.health,
      stats: front.stats,
      upgrades: this.counters,
      timeouts: front.timeouts,
      trace: front.trace,
      idleMs: front.upgradeIdleMs,
      tunnels: this.tunnels,
      admission,
    };
  }

  /** Tunnels open now. */
  get open(): number {
    return this.tunnels.size;
  }

  /** Answers an upgrade request with an error before anything switched, and closes. */
  refuse(socket: Duplex, code: HttpErrorCode, message: string, requestId: string | undefined): void {
    this.services.stats.countError(code);
    this.counters.refused(code);
    socket.on('error', () => undefined);
    socket.end(rawError(code, message, requestId));
    setTimeout(() => socket.destroy(), ERROR_CLOSE_GRACE_MS).unref();
  }

  /** Proxies an admitted upgrade request. */
  start(req: IncomingMessage, socket: Duplex, early: Buffer, admitted: Extract<AdmissionDecision, { kind: 'proxy' }>): void {
    if (admitted.head.hasBody) {
      return this.refuse(socket, HttpErrorCode.BAD_REQUEST, 'an Upgrade request with a body is not served', admitted.head.requestId);
    }
    const protocol = upgradeToken(req.headers.upgrade);
    const admission = this.admission;
    admission.accept();
    const exchange = new UpgradeExchange(this.services, socket, early, req, admitted.policy, admitted.head, admitted.path, protocol, () => admission.settle());
    exchange.hooks = admitted.hooks;
    exchange.start();
  }

  /** Closes every tunnel (the end of the drain). */
  closeAll(): void {
    if (this.tunnels.size > 0) this.log.info('closing upgraded connections', { open: this.tunnels.size });
    for (const tunnel of [...this.tunnels]) tunnel.close();
  }
}

/** `websocket` when the client's Upgrade header offers it first, else undefined (sent as a plain request). */
export function upgradeToken(header: string | undefined): string | undefined {
  const first = header?.split(',')[0]?.trim();
  return first !== undefined && first.toLowerCase() === UPGRADED_TOKEN ? first : undefined;
}
