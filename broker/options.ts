/**
 * Every broker default in one place, and the check of user options up front with an error
 * that names the option.
 */
import { silentLogger, type Logger } from './support/logger.js';
import { isStrategyName, STRATEGY_NAMES, type StrategyName } from './routing/strategies/index.js';
import type { StaticBackend } from './http/servers-file.js';
import { InterceptorError, resolveInterceptors } from './hooks/check.js';
import type { Interceptor } from './hooks/interceptor.js';

export interface BrokerOptions {
  /** Address of the packet listener; 0.0.0.0 to serve other hosts. */
  host: string;
  /** Port of the packet listener; 0 picks a free one (see `broker.address()`). */
  port: number;
  algorithm: StrategyName;
  /** Longest frame accepted, in bytes. */
  maxPacketBytes: number;
  /** How long a server may take to answer before its packets are re-routed. */
  serverTimeoutMs: number;
  /** Servers tried for one packet, in all, before the client gets an error. */
  maxAttempts: number;
  /** Packets one client connection may have in flight; past it: OVERLOADED. */
  maxClientInflight: number;
  /** Packets waiting for one server beyond its maxInflight; past it: OVERLOADED. */
  serverQueueLimit: number;
  /** How long to keep dialing a newly registered server (classic ones listen late). */
  dialRetryMs: number;
  /** Heartbeat interval asked of session servers. */
  heartbeatMs: number;
  /** Heartbeats a session server may miss before it is taken out. */
  heartbeatMisses: number;
  /** When set, registrations must carry this secret. */
  registrationSecret: string | undefined;
  /** How long a shutdown waits for in-flight packets. */
  drainTimeoutMs: number;
  /**
   * Closes a connection that sent no complete packet and had none in flight for this long;
   * 0 = never. Session servers heartbeat, so they are never idle.
   */
  idleTimeoutMs: number;
  /** Closes a connection whose packet, once begun, is not complete within this long; 0 = never. */
  headerTimeoutMs: number;
  /** Open connections accepted at once on the packet port. */
  maxConnections: number;
  /**
   * PEM certificate (chain) file: with tlsKey, the listeners speak TLS (the packet port, and the
   * HTTP port when it is on). Unset: plain TCP.
   */
  tlsCert: string | undefined;
  /** PEM private key file of tlsCert. */
  tlsKey: string | undefined;
  /**
   * PEM CA file trusted for servers that register with `tls: true` (the broker dials them with
   * TLS and verifies their certificate against this, or against Node's CAs when unset).
   */
  serverCa: string | undefined;
  logger: Logger;
  /**
   * Hooks that capture chosen requests and packets and change them (docs/hooks.md): run in
   * order on the way in, in reverse on the way out. `--plugin` files add to them.
   */
  interceptors: Interceptor[];

  // The HTTP front end (docs/http.md): off unless httpPort is set.

  /** Port of the HTTP listener; 0 picks a free one (see `broker.httpAddress()`); undefined = no HTTP. */
  httpPort: number | undefined;
  /** Address of the HTTP listener; undefined = the packet listener's `host`. */
  httpHost: string | undefined;
  /** Policy of requests without an `X-Privacy-Policy` header, and of static backends without one. */
  httpPolicy: number;
  /** Static HTTP backends (the `backend_servers` of a servers.conf), beside the registered ones. */
  httpServers: StaticBackend[];
  /** When set, requests must carry `Authorization: Bearer <httpToken>`. */
  httpToken: string | undefined;
  /** When set, sent to backends as `Authorization: Bearer <upstreamToken>`. */
  upstreamToken: string | undefined;
  /** Paths starting with this are answered by the broker (status, health), never proxied. */
  adminPrefix: string;
  /** Open HTTP client connections; a request on one past it gets 503. */
  httpMaxConnections: number;
  /** HTTP requests being proxied at once; past it: 503. */
  httpMaxInflight: number;
  /** Longest request head (request line and headers) accepted, in bytes; longer: 400. */
  httpMaxHeaderBytes: number;
  /** Time a client has to send a request's headers. */
  httpHeadersTimeoutMs: number;
  /** Time an idle keep-alive client connection is kept between requests. */
  httpKeepAliveTimeoutMs: number;
  /** A client connection with no bytes either way for this long is closed (slow bodies); 0 = never. */
  httpSocketTimeoutMs: number;
  /** Time a backend has to send response headers, and the longest gap in a response body. */
  upstreamTimeoutMs: number;
  /** Time to open a connection to a backend. */
  upstreamConnectTimeoutMs: number;
  /** Connections kept open to one backend at most. */
  upstreamConnections: number;
  /**
   * Path the active health check asks for, passing on 2xx and 3xx. Undefined: `/`, passing on
   * any status below 500, which any stock web server (an nginx site with no /health) passes.
   */
  healthPath: string | undefined;
  /** Time between active health checks of a backend; 0 = passive health only. */
  healthIntervalMs: number;
  /** Time a health check may take. */
  healthTimeoutMs: number;
  /** Passing checks in a row that bring a down backend back. */
  healthRise: number;
  /** Failing checks in a row that take a backend out. */
  healthFall: number;
  /** With active checks off: how long a backend marked down by a failed request stays out. */
  failTimeoutMs: number;
}

type UnsetByDefault = 'logger' | 'registrationSecret' | 'tlsCert' | 'tlsKey' | 'serverCa' | 'httpPort' | 'httpHost' | 'httpToken' | 'upstreamToken' | 'healthPath';

export const BROKER_DEFAULTS: Omit<BrokerOptions, UnsetByDefault> = {
  host: '127.0.0.1',
  port: 2100,
  algorithm: 'round-robin',
  maxPacketBytes: 1024 * 1024,
  serverTimeoutMs: 5000,
  maxAttempts: 3,
  maxClientInflight: 1024,
  serverQueueLimit: 4096,
  dialRetryMs: 5000,
  heartbeatMs: 1000,
  heartbeatMisses: 3,
  drainTimeoutMs: 10000,
  idleTimeoutMs: 300_000,
  headerTimeoutMs: 10_000,
  maxConnections: 20000,
  interceptors: [],
  httpPolicy: 111,
  httpServers: [],
  adminPrefix: '/_broker/',
  httpMaxConnections: 10000,
  httpMaxInflight: 10000,
  httpMaxHeaderBytes: 16 * 1024,
  httpHeadersTimeoutMs: 10000,
  httpKeepAliveTimeoutMs: 5000,
  httpSocketTimeoutMs: 60000,
  upstreamTimeoutMs: 30000,
  upstreamConnectTimeoutMs: 5000,
  upstreamConnections: 256,
  healthIntervalMs: 2000,
  healthTimeoutMs: 1000,
  healthRise: 2,
  healthFall: 3,
  failTimeoutMs: 10000,
};

/** Thrown for an option that cannot work; `option` names it. */
export class OptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`option ${option}: ${message}`);
    this.name = 'OptionError';
  }
}

/** Fills in the defaults and checks every value. */
export function resolveBrokerOptions(input: Partial<BrokerOptions> = {}): BrokerOptions {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<BrokerOptions>;
  const options: BrokerOptions = {
    ...BROKER_DEFAULTS,
    registrationSecret: undefined,
    tlsCert: undefined,
    tlsKey: undefined,
    serverCa: undefined,
    httpPort: undefined,
    httpHost: undefined,
    httpToken: undefined,
    upstreamToken: undefined,
    healthPath: undefined,
    logger: silentLogger(),
    ...defined,
  };
  if (!isStrategyName(options.algorithm)) {
    throw new OptionError('algorithm', `must be one of ${STRATEGY_NAMES.join(', ')}, got "${String(options.algorithm)}"`);
  }
  checkInteger('port', options.port, 0, 65535);
  checkInteger('maxPacketBytes', options.maxPacketBytes, 64, 256 * 1024 * 1024);
  checkInteger('serverTimeoutMs', options.serverTimeoutMs, 1, 3_600_000);
  checkInteger('maxAttempts', options.maxAttempts, 1, 100);
  checkInteger('maxClientInflight', options.maxClientInflight, 1, 1_000_000);
  checkInteger('serverQueueLimit', options.serverQueueLimit, 0, 1_000_000);
  checkInteger('dialRetryMs', options.dialRetryMs, 0, 3_600_000);
  checkInteger('heartbeatMs', options.heartbeatMs, 10, 3_600_000);
  checkInteger('heartbeatMisses', options.heartbeatMisses, 1, 1000);
  checkInteger('drainTimeoutMs', options.drainTimeoutMs, 0, 3_600_000);
  checkInteger('idleTimeoutMs', options.idleTimeoutMs, 0, 86_400_000);
  checkInteger('headerTimeoutMs', options.headerTimeoutMs, 0, 86_400_000);
  checkInteger('maxConnections', options.maxConnections, 1, 10_000_000);
  if (options.registrationSecret === '') throw new OptionError('registrationSecret', 'must not be empty');
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new OptionError(options.tlsCert === undefined ? 'tlsCert' : 'tlsKey', 'tlsCert and tlsKey go together');
  }
  checkHttpOptions(options);
  try {
    resolveInterceptors(options.interceptors);
  } catch (err) {
    if (err instanceof InterceptorError) throw new OptionError('interceptors', err.message);
    throw err;
  }
  return options;
}

function checkHttpOptions(options: BrokerOptions): void {
  if (options.httpPort !== undefined) checkInteger('httpPort', options.httpPort, 0, 65535);
  else if (options.httpServers.length > 0) throw new OptionError('httpServers', 'static HTTP backends need the HTTP listener (httpPort)');
  if (options.httpHost === '') throw new OptionError('httpHost', 'must not be empty');
  checkInteger('httpPolicy', options.httpPolicy, 0, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(options.httpServers)) throw new OptionError('httpServers', 'must be a list');
  options.httpServers.forEach((server, i) => {
    if (typeof server?.host !== 'string' || server.host === '') throw new OptionError(`httpServers[${i}].host`, 'must be a non-empty string');
    checkInteger(`httpServers[${i}].port`, server.port, 1, 65535);
    if (server.policy !== undefined) checkInteger(`httpServers[${i}].policy`, server.policy, 0, Number.MAX_SAFE_INTEGER);
  });
  if (options.httpToken === '') throw new OptionError('httpToken', 'must not be empty');
  if (options.upstreamToken === '') throw new OptionError('upstreamToken', 'must not be empty');
  if (options.upstreamToken !== undefined && !/^[\x21-\x7e]+$/.test(options.upstreamToken)) {
    throw new OptionError('upstreamToken', 'must be printable ASCII without spaces');
  }
  if (!/^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)+$/.test(options.adminPrefix)) {
    throw new OptionError('adminPrefix', `must be a path that starts and ends with "/", like /_broker/, got "${options.adminPrefix}"`);
  }
  checkInteger('httpMaxConnections', options.httpMaxConnections, 1, 10_000_000);
  checkInteger('httpMaxInflight', options.httpMaxInflight, 1, 10_000_000);
  checkInteger('httpMaxHeaderBytes', options.httpMaxHeaderBytes, 1024, 1024 * 1024);
  checkInteger('httpHeadersTimeoutMs', options.httpHeadersTimeoutMs, 1, 3_600_000);
  checkInteger('httpKeepAliveTimeoutMs', options.httpKeepAliveTimeoutMs, 1, 3_600_000);
  checkInteger('httpSocketTimeoutMs', options.httpSocketTimeoutMs, 0, 86_400_000);
  checkInteger('upstreamTimeoutMs', options.upstreamTimeoutMs, 1, 86_400_000);
  checkInteger('upstreamConnectTimeoutMs', options.upstreamConnectTimeoutMs, 1, 3_600_000);
  checkInteger('upstreamConnections', options.upstreamConnections, 1, 100_000);
  if (options.healthPath !== undefined && (!options.healthPath.startsWith('/') || !/^[\x21-\x7e]+$/.test(options.healthPath))) {
    throw new OptionError('healthPath', `must be a path starting with "/", got "${options.healthPath}"`);
  }
  checkInteger('healthIntervalMs', options.healthIntervalMs, 0, 3_600_000);
  checkInteger('healthTimeoutMs', options.healthTimeoutMs, 1, 3_600_000);
  checkInteger('healthRise', options.healthRise, 1, 1000);
  checkInteger('healthFall', options.healthFall, 1, 1000);
  checkInteger('failTimeoutMs', options.failTimeoutMs, 1, 86_400_000);
}

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(name, `must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
}
