/**
 * Every default of a server in one place, and the check of a caller's options against them:
 * a bad value fails at construction with an error naming the option, not later on the wire.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import type { Logger } from '../broker/support/logger.js';
import { silentLogger } from '../broker/support/logger.js';
import { DEFAULT_MAX_LINE_LENGTH } from '../broker/support/line-reader.js';
import { resolveHandler, type Handler, type HandlerName } from './handlers.js';

/** Where the broker's packet port is. */
export interface BrokerAddress {
  host: string;
  port: number;
}

export interface PacketServerOptions {
  /** The server's id, unique among the broker's servers. */
  id: number;
  /** The privacy policy whose packets it serves. */
  policy: number;
  /** The broker to register with (default 127.0.0.1:2100). */
  broker?: BrokerAddress;
  /**
   * Other brokers sharing the broker's registry (--registry): when the session is lost, the
   * server registers with the next one (broker first, then these, in turn).
   */
  brokers?: BrokerAddress[];
  /** TCP port to listen on for the broker's connections; 0 (default) takes any free port. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  listenHost?: string;
  /** What to compute from each payload (default sha1). */
  handler?: HandlerName | Handler;
  /** Simulated work per packet, in ms (default 0). */
  delayMs?: number;
  /** Packets handled at once on one broker connection, also declared to the broker (default 64). */
  maxInflight?: number;
  /** Shared secret the broker may require at registration. */
  secret?: string;
  /** Share of its policy's packets and requests relative to the other servers' (1-1000), sent at registration; unset: not sent (1). */
  weight?: number;
  /** PEM certificate file: with tlsKey, the listener speaks TLS and registers with `tls: true`. */
  tlsCert?: string;
  /** PEM private key file of tlsCert. */
  tlsKey?: string;
  /** TLS to the broker (one started with --tls-cert): true, or tls.connect options such as `{ ca }`. */
  brokerTls?: boolean | ConnectionOptions;
  /**
   * Serve HTTP too (the whoami-style page of http-server.ts) on `httpPort` (0 or unset: any
   * free port), and declare that port at registration as `httpport`.
   */
  http?: boolean;
  /** With `http`: the port to serve HTTP on. Without: a port of the caller's own HTTP listener, only declared. */
  httpPort?: number;
  logger?: Logger;
  /** First reconnect delay after the session is lost, in ms (default 50); it doubles per failure. */
  reconnectMinMs?: number;
  /** Longest reconnect delay, in ms (default 500), so a restarted broker is back within a second. */
  reconnectMaxMs?: number;
  /** How long to wait to connect to the broker (TCP and TLS), then as long for its answer to the registration, in ms (default 5000). */
  registerTimeoutMs?: number;
  /**
   * A registered session whose broker sends nothing for this long, in ms, is taken for lost
   * (a cut link raises no error on TCP) and the server registers with the next broker.
   * Heartbeats ask the broker to answer (`echo`), so a live broker is never silent for long; a
   * broker that does not answer echoes is not watched. Default: 3 of the broker's heartbeat
   * periods (3 s with its default --heartbeat), at least 1 s. 0 turns it off.
   */
  brokerSilenceMs?: number;
  /** How long stop() waits for in-flight packets to be answered, in ms (default 5000). */
  drainTimeoutMs?: number;
  /** Longest line accepted from the broker, in characters; a longer one closes the connection. */
  maxLineLength?: number;
}

export const SERVER_DEFAULTS = {
  broker: { host: '127.0.0.1', port: 2100 } as BrokerAddress,
  policy: 111,
  id: 100,
  port: 0,
  listenHost: '127.0.0.1',
  handler: 'sha1' as HandlerName,
  delayMs: 0,
  maxInflight: 64,
  reconnectMinMs: 50,
  reconnectMaxMs: 500,
  registerTimeoutMs: 5000,
  drainTimeoutMs: 5000,
  /** Used when the broker's type 4 answer carries no usable heartbeatMs. */
  heartbeatMs: 1000,
  maxLineLength: DEFAULT_MAX_LINE_LENGTH,
} as const;

/** The broker accepts no more than this many in-flight packets per server (docs/protocol.md). */
export const MAX_INFLIGHT = 4096;

/** Options with every default filled in. */
export interface ResolvedServerOptions {
  id: number;
  policy: number;
  broker: BrokerAddress;
  /** Other brokers to move to; empty with one broker. */
  brokers: BrokerAddress[];
  port: number;
  listenHost: string;
  handler: Handler;
  delayMs: number;
  maxInflight: number;
  secret: string | undefined;
  weight: number | undefined;
  /** Certificate and key of a TLS listener; undefined for plain TCP. */
  tls: SecureContextOptions | undefined;
  /** How to dial the broker with TLS; undefined for plain TCP. */
  brokerTls: ConnectionOptions | undefined;
  http: boolean;
  httpPort: number | undefined;
  logger: Logger;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  registerTimeoutMs: number;
  /** undefined: from the broker's heartbeat period. */
  brokerSilenceMs: number | undefined;
  drainTimeoutMs: number;
  maxLineLength: number;
}

/** Fills in defaults and checks ranges; throws a RangeError naming the first bad option. */
export function resolveServerOptions(options: PacketServerOptions): ResolvedServerOptions {
  const resolved: ResolvedServerOptions = {
    id: options.id,
    policy: options.policy,
    broker: options.broker ?? SERVER_DEFAULTS.broker,
    brokers: options.brokers ?? [],
    port: options.port ?? SERVER_DEFAULTS.port,
    listenHost: options.listenHost ?? SERVER_DEFAULTS.listenHost,
    handler: resolveHandler(options.handler ?? SERVER_DEFAULTS.handler),
    delayMs: options.delayMs ?? SERVER_DEFAULTS.delayMs,
    maxInflight: options.maxInflight ?? SERVER_DEFAULTS.maxInflight,
    secret: options.secret,
    weight: options.weight,
    tls: listenerTls(options.tlsCert, options.tlsKey),
    brokerTls: options.brokerTls === undefined || options.brokerTls === false ? undefined : options.brokerTls === true ? {} : options.brokerTls,
    http: options.http ?? false,
    httpPort: options.httpPort,
    logger: options.logger ?? silentLogger(),
    reconnectMinMs: options.reconnectMinMs ?? SERVER_DEFAULTS.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs ?? SERVER_DEFAULTS.reconnectMaxMs,
    registerTimeoutMs: options.registerTimeoutMs ?? SERVER_DEFAULTS.registerTimeoutMs,
    brokerSilenceMs: options.brokerSilenceMs,
    drainTimeoutMs: options.drainTimeoutMs ?? SERVER_DEFAULTS.drainTimeoutMs,
    maxLineLength: options.maxLineLength ?? SERVER_DEFAULTS.maxLineLength,
  };
  checkInteger('id', resolved.id, 0);
  checkInteger('policy', resolved.policy, 0);
  checkInteger('broker.port', resolved.broker.port, 1, 65535);
  resolved.brokers.forEach((b, i) => checkInteger(`brokers[${i}].port`, b.port, 1, 65535));
  checkInteger('port', resolved.port, 0, 65535);
  checkInteger('delayMs', resolved.delayMs, 0);
  checkInteger('maxInflight', resolved.maxInflight, 1, MAX_INFLIGHT);
  if (resolved.weight !== undefined) checkInteger('weight', resolved.weight, 1, 1000);
  if (resolved.httpPort !== undefined) checkInteger('httpPort', resolved.httpPort, resolved.http ? 0 : 1, 65535);
  checkInteger('reconnectMinMs', resolved.reconnectMinMs, 1);
  checkInteger('reconnectMaxMs', resolved.reconnectMaxMs, resolved.reconnectMinMs);
  checkInteger('registerTimeoutMs', resolved.registerTimeoutMs, 1);
  if (resolved.brokerSilenceMs !== undefined) checkInteger('brokerSilenceMs', resolved.brokerSilenceMs, 0);
  checkInteger('drainTimeoutMs', resolved.drainTimeoutMs, 0);
  checkInteger('maxLineLength', resolved.maxLineLength, 1);
  return resolved;
}

/** Reads the listener's certificate and key; throws a RangeError naming the option on a bad one. */
function listenerTls(cert: string | undefined, key: string | undefined): SecureContextOptions | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new RangeError('options tlsCert and tlsKey go together');
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new RangeError(`option ${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: read('tlsCert', cert), key: read('tlsKey', key) };
}

/** Throws a RangeError naming the option unless value is a whole number in [min, max]. */
export function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`option ${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
}
