/**
 * The one table of broker options. From it come commander's options and their environment
 * names (main.ts), every default, the check of user options up front with an error that names
 * the option, and the BrokerOptions type of createBroker().
 */
import { backendList, oneOf, optionalNumber, optionalText, text, wholeNumber, type OptionSpec } from './option-spec.js';
import { STRATEGY_NAMES } from './routing/strategies/index.js';
import { silentLogger, type Logger } from './support/logger.js';
import { OptionError } from './support/option-error.js';
import { parseRegistryUrl } from './registry/registry-url.js';

export { OptionError };

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const printable = (what: string) => (v: string) => (/^[\x21-\x7e]+$/.test(v) ? undefined : `${what} printable ASCII without spaces`);

export const BROKER_OPTIONS = {
  /** Address of the packet listener; 0.0.0.0 to serve other hosts. */
  host: text('--host <address>', 'address to listen on (0.0.0.0 for other hosts)', '127.0.0.1'),
  /** Port of the packet listener; 0 picks a free one (see `broker.address()`). */
  port: wholeNumber('-p, --port <port>', 'packet port (0 = any free port)', 2100, 0, 65535),
  algorithm: oneOf('--algorithm <name>', 'server selection per packet and request', 'round-robin', STRATEGY_NAMES),
  /** Longest frame accepted, in bytes. */
  maxPacketBytes: wholeNumber('--max-packet-bytes <n>', 'longest packet accepted', 1024 * 1024, 64, 256 * 1024 * 1024),
  /** How long a server may take to answer before its packets are re-routed. */
  serverTimeoutMs: wholeNumber('--server-timeout <ms>', 'time a server has to answer before its packets are re-routed', 5 * SECOND, 1, HOUR),
  /** Servers tried for one packet or request, in all, before the client gets an error. */
  maxAttempts: wholeNumber('--max-attempts <n>', 'servers tried per packet or request before an error', 3, 1, 100),
  /** Packets one client connection may have in flight; past it: OVERLOADED. */
  maxClientInflight: wholeNumber('--max-client-inflight <n>', 'packets in flight per client connection', 1024, 1, 1_000_000),
  /** Packets waiting for one server beyond its maxInflight; past it: OVERLOADED. */
  serverQueueLimit: wholeNumber('--server-queue <n>', 'packets queued per server beyond its maxInflight', 4096, 0, 1_000_000),
  /** How long to keep dialing a newly registered server (classic ones listen late). */
  dialRetryMs: wholeNumber('--dial-retry <ms>', 'how long to keep dialing a newly registered server', 5 * SECOND, 0, HOUR),
  /** Heartbeat interval asked of session servers. */
  heartbeatMs: wholeNumber('--heartbeat <ms>', 'heartbeat interval asked of session servers', SECOND, 10, HOUR),
  /** Heartbeats a session server may miss before it is taken out. */
  heartbeatMisses: wholeNumber('--heartbeat-misses <n>', 'missed heartbeats before a server is taken out', 3, 1, 1000),
  /**
   * Closes a connection that sent no complete packet and had none in flight for this long;
   * 0 = never. Session servers heartbeat, so they are never idle.
   */
  idleTimeoutMs: wholeNumber('--idle-timeout <ms>', 'close connections that send nothing and wait for nothing this long (0 = never)', 300 * SECOND, 0, DAY),
  /** Closes a connection whose packet, once begun, is not complete within this long; 0 = never. */
  headerTimeoutMs: wholeNumber('--header-timeout <ms>', 'close connections whose packet, once begun, is not complete this long (0 = never)', 10 * SECOND, 0, DAY),
  /** Open connections accepted at once on the packet port. */
  maxConnections: wholeNumber('--max-connections <n>', 'open connections at once', 20000, 1, 10_000_000),
  /** How long a shutdown waits for in-flight packets and requests. */
  drainTimeoutMs: wholeNumber('--drain-timeout <ms>', 'how long shutdown waits for in-flight packets', 10 * SECOND, 0, HOUR),
  /** When set, registrations must carry this secret. */
  registrationSecret: optionalText('--registration-secret <secret>', 'servers must send this secret to register'),
  /**
   * PEM certificate (chain) file: with tlsKey, the listeners speak TLS (the packet port, and the
   * HTTP port when it is on). Unset: plain TCP.
   */
  tlsCert: optionalText('--tls-cert <file>', 'PEM certificate: the listeners speak TLS (with --tls-key)'),
  /** PEM private key file of tlsCert. */
  tlsKey: optionalText('--tls-key <file>', 'PEM private key of --tls-cert'),
  /**
   * PEM CA file trusted for servers that register with `tls: true` (the broker dials them with
   * TLS and verifies their certificate against this, or against Node's CAs when unset).
   */
  serverCa: optionalText('--server-ca <file>', 'PEM CA that certificates of servers registering with tls must chain to (default: Node\'s CAs)'),

  // The HTTP front end (docs/http.md): off unless httpPort is set.

  /** Port of the HTTP listener; 0 picks a free one (see `broker.httpAddress()`); undefined = no HTTP. */
  httpPort: optionalNumber('--http-port <port>', 'serve HTTP on this port too (0 = any free port; off unless given)', 0, 65535),
  /** Address of the HTTP listener; undefined = the packet listener's `host`. */
  httpHost: optionalText('--http-host <address>', 'address of the HTTP listener (default: --host)'),
  /** Policy of requests without an `X-Privacy-Policy` header, and of static backends without one. */
  httpPolicy: wholeNumber('--http-policy <n>', 'policy of requests without an X-Privacy-Policy header', 111, 0),
  /** Static HTTP backends (the `backend_servers` of a servers.conf), beside the registered ones. */
  httpServers: backendList('--servers <file>', 'static HTTP backends: {"backend_servers":[{"ip":…,"port":…,"policy"?:…},…]}'),
  /** When set, requests must carry `Authorization: Bearer <httpToken>`. */
  httpToken: optionalText('--http-token <token>', 'HTTP requests must carry Authorization: Bearer <token>'),
  /** When set, sent to backends as `Authorization: Bearer <upstreamToken>`. */
  upstreamToken: optionalText('--upstream-token <token>', 'sent to HTTP backends as Authorization: Bearer <token>', printable('must be')),
  /** Paths starting with this are answered by the broker (status, health), never proxied. */
  adminPrefix: text('--admin-prefix <path>', 'path prefix of the broker\'s own pages (status, health), never proxied', '/_broker/', (v) =>
    /^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)+$/.test(v) ? undefined : `must be a path that starts and ends with "/", like /_broker/, got "${v}"`,
  ),
  /** Open HTTP client connections; a request on one past it gets 503. */
  httpMaxConnections: wholeNumber('--http-max-connections <n>', 'open HTTP client connections; past it requests get 503', 10000, 1, 10_000_000),
  /** HTTP requests being proxied at once; past it: 503. */
  httpMaxInflight: wholeNumber('--http-max-inflight <n>', 'HTTP requests proxied at once; past it 503', 10000, 1, 10_000_000),
  /** Longest request head (request line and headers) accepted, in bytes; longer: 400. */
  httpMaxHeaderBytes: wholeNumber('--http-max-header-bytes <n>', 'longest request head accepted; longer gets 400', 16 * 1024, 1024, 1024 * 1024),
  /** Time a client has to send a request's headers. */
  httpHeadersTimeoutMs: wholeNumber('--http-headers-timeout <ms>', 'time a client has to send a request head', 10 * SECOND, 1, HOUR),
  /** Time an idle keep-alive client connection is kept between requests. */
  httpKeepAliveTimeoutMs: wholeNumber('--http-keep-alive-timeout <ms>', 'idle time before a keep-alive client connection is closed', 5 * SECOND, 1, HOUR),
  /** A client connection with no bytes either way for this long is closed (slow bodies); 0 = never. */
  httpSocketTimeoutMs: wholeNumber('--http-socket-timeout <ms>', 'close a client connection with no bytes either way this long (0 = never)', 60 * SECOND, 0, DAY),
  /** Time a backend has to send response headers, and the longest gap in a response body. */
  upstreamTimeoutMs: wholeNumber('--upstream-timeout <ms>', 'time a backend has for its response head, and the longest gap in its body', 30 * SECOND, 1, DAY),
  /** Time to open a connection to a backend. */
  upstreamConnectTimeoutMs: wholeNumber('--upstream-connect-timeout <ms>', 'time to connect to a backend', 5 * SECOND, 1, HOUR),
  /** Connections kept open to one backend at most. */
  upstreamConnections: wholeNumber('--upstream-connections <n>', 'connections kept per backend at most', 256, 1, 100_000),
  /**
   * Path the active health check asks for, passing on 2xx and 3xx. Undefined: `/`, passing on
   * any status below 500, which any stock web server (an nginx site with no /health) passes.
   */
  healthPath: optionalText('--health-path <path>', 'path of the active health check, passing on 2xx/3xx (default: / passing on any status below 500)', (v) =>
    v.startsWith('/') && /^[\x21-\x7e]+$/.test(v) ? undefined : `must be a path starting with "/", got "${v}"`,
  ),
  /** Time between active health checks of a backend; 0 = passive health only. */
  healthIntervalMs: wholeNumber('--health-interval <ms>', 'time between active health checks (0 = passive health only)', 2 * SECOND, 0, HOUR),
  /** Time a health check may take. */
  healthTimeoutMs: wholeNumber('--health-timeout <ms>', 'time a health check may take', SECOND, 1, HOUR),
  /** Passing checks in a row that bring a down backend back. */
  healthRise: wholeNumber('--health-rise <n>', 'passing checks in a row that bring a backend back', 2, 1, 1000),
  /** Failing checks in a row that take a backend out. */
  healthFall: wholeNumber('--health-fall <n>', 'failing checks in a row that take a backend out', 3, 1, 1000),
  /** With active checks off: how long a backend marked down by a failed request stays out. */
  failTimeoutMs: wholeNumber('--fail-timeout <ms>', 'without active checks: how long a failed backend stays out', 10 * SECOND, 1, DAY),

  // The registry shared with other brokers (docs/scale-out.md): in memory unless registry is set.

  /** redis://[user:password@]host:port[/db] (or rediss://): share the registry through Redis. */
  registry: optionalText('--registry <url>', 'share servers with other brokers through Redis: redis://[user:password@]host:port[/db] or rediss:// (default: in memory, this broker only)', registryUrlProblem),
  /** Prefix of every Redis key: brokers with the same one share servers. */
  registryPrefix: text('--registry-prefix <prefix>', 'prefix of the Redis keys; brokers with the same prefix share servers', 'policy-broker:', printable('must be')),
  /** Period of the full resync with Redis, the renewal of owned records and the broker key. */
  registryResyncMs: wholeNumber('--registry-resync <ms>', 'full resync with the shared registry (also renews this broker\'s records)', SECOND, 50, 60 * SECOND),
  /** How long a starting broker keeps trying to reach Redis before it exits. */
  registryWaitMs: wholeNumber('--registry-wait <ms>', 'how long to keep trying Redis at start before exiting', 10 * SECOND, 0, HOUR),
};

type Table = typeof BROKER_OPTIONS;
export type OptionName = keyof Table;

/** Every option of a broker: one field per entry of the table, and where it logs. */
export type BrokerOptions = { -readonly [K in OptionName]: Table[K] extends OptionSpec<infer T> ? T : never } & { logger: Logger };

/** Every default, from the table. */
export const BROKER_DEFAULTS = Object.fromEntries(Object.entries(BROKER_OPTIONS).map(([name, spec]) => [name, spec.default])) as Omit<BrokerOptions, 'logger'>;

/** Fills in the defaults and checks every value; values of unknown type (from a command line) are checked the same way. */
export function resolveBrokerOptions(input: Partial<BrokerOptions> | Partial<Record<OptionName | 'logger', unknown>> = {}): BrokerOptions {
  const given = input as Partial<Record<string, unknown>>;
  const options: Record<string, unknown> = { logger: given.logger ?? silentLogger() };
  for (const [name, spec] of Object.entries(BROKER_OPTIONS) as Array<[OptionName, OptionSpec<unknown>]>) {
    const value = given[name] === undefined ? spec.default : given[name];
    const problem = spec.problem(value);
    if (problem !== undefined) throw new OptionError(name, problem);
    options[name] = value;
  }
  const resolved = options as BrokerOptions;
  checkTogether(resolved);
  return resolved;
}

function registryUrlProblem(url: string): string | undefined {
  try {
    parseRegistryUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** What no single option can check alone. */
function checkTogether(options: BrokerOptions): void {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new OptionError(options.tlsCert === undefined ? 'tlsCert' : 'tlsKey', 'tlsCert and tlsKey go together');
  }
  if (options.httpPort === undefined && options.httpServers.length > 0) {
    throw new OptionError('httpServers', 'static HTTP backends need the HTTP listener (httpPort)');
  }
  options.httpServers.forEach((server, i) => {
    if (typeof server?.host !== 'string' || server.host === '') throw new OptionError(`httpServers[${i}].host`, 'must be a non-empty string');
    const port = BROKER_OPTIONS.port.problem(server.port) ?? (server.port === 0 ? 'must be a whole number from 1 to 65535, got 0' : undefined);
    if (port !== undefined) throw new OptionError(`httpServers[${i}].port`, port);
    if (server.policy !== undefined) {
      const policy = BROKER_OPTIONS.httpPolicy.problem(server.policy);
      if (policy !== undefined) throw new OptionError(`httpServers[${i}].policy`, policy);
    }
  });
}
