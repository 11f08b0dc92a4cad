/**
 * The one table of broker options. From it come commander's options and their environment
 * names (main.ts), every default, the check of user options up front with an error that names
 * the option, and the BrokerOptions type of createBroker(). Each entry's description (its
 * --help line) is its documentation; README.md and docs/http.md give the longer story.
 */
import { InterceptorError, resolveInterceptors } from './hooks/check.js';
import type { Interceptor } from './hooks/interceptor.js';
import { addressList, backendList, fileList, flag, fraction, oneOf, optional, processCount, text, wholeNumber, type OptionSpec } from './option-spec.js';
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
  host: text('--host <address>', 'address to listen on (0.0.0.0 for other hosts)', '127.0.0.1'),
  port: wholeNumber('-p, --port <port>', 'packet port (0 = any free port)', 2100, 0, 65535),
  algorithm: oneOf('--algorithm <name>', 'server selection per packet and request', 'round-robin', STRATEGY_NAMES),
  maxPacketBytes: wholeNumber('--max-packet-bytes <n>', 'longest packet accepted', 1024 * 1024, 64, 256 * 1024 * 1024),
  serverTimeoutMs: wholeNumber('--server-timeout <ms>', 'time a server has to answer before its packets are re-routed', 5 * SECOND, 1, HOUR),
  maxAttempts: wholeNumber('--max-attempts <n>', 'servers tried per packet or request before an error', 3, 1, 100),
  maxClientInflight: wholeNumber('--max-client-inflight <n>', 'packets in flight per client connection', 1024, 1, 1_000_000),
  serverQueueLimit: wholeNumber('--server-queue <n>', 'packets queued per server beyond its maxInflight', 4096, 0, 1_000_000),
  dialRetryMs: wholeNumber('--dial-retry <ms>', 'how long to keep dialing a newly registered server', 5 * SECOND, 0, HOUR),
  heartbeatMs: wholeNumber('--heartbeat <ms>', 'heartbeat interval asked of session servers', SECOND, 10, HOUR),
  heartbeatMisses: wholeNumber('--heartbeat-misses <n>', 'missed heartbeats before a server is taken out', 3, 1, 1000),
  idleTimeoutMs: wholeNumber('--idle-timeout <ms>', 'close connections that send nothing and wait for nothing this long (0 = never)', 300 * SECOND, 0, DAY),
  headerTimeoutMs: wholeNumber('--header-timeout <ms>', 'close connections whose packet, once begun, is not complete this long (0 = never)', 10 * SECOND, 0, DAY),
  maxConnections: wholeNumber('--max-connections <n>', 'open connections at once', 20000, 1, 10_000_000),
  /**
   * Listening sockets per port (SO_REUSEPORT), for the packet and the HTTP port alike: a busy
   * event loop accepts one connection per socket per turn (docs/benchmarks.md, "Bursts of
   * connections"). Ignored, with a warning, on a Node without reusePort (before 22.12).
   */
  listenSockets: wholeNumber('--listen-sockets <n>', 'listening sockets per port, so bursts of new connections are accepted at once (SO_REUSEPORT; Node 22.12+)', 16, 1, 64),
  /** The kernel caps it at net.core.somaxconn (4096 on Linux 5.4 and later). */
  listenBacklog: wholeNumber('--listen-backlog <n>', 'connections the kernel queues per listening socket before they are accepted (capped by net.core.somaxconn)', 4096, 1, 65535),
  drainTimeoutMs: wholeNumber('--drain-timeout <ms>', 'how long shutdown waits for in-flight packets', 10 * SECOND, 0, HOUR),
  registrationSecret: optional(text('--registration-secret <secret>', 'servers must send this secret to register', '')),
  /** Empty: any address may register when a secret is set or the broker listens on loopback only, else loopback only (protected mode, registration-guard.ts). */
  allowRegisterFrom: addressList('--allow-register-from <cidrs>', 'addresses or CIDR blocks (comma-separated) that may register besides loopback'),
  insecureOpenRegistration: flag('--insecure-open-registration', 'beyond loopback without a secret, take registrations from anyone (protected mode off)'),
  maxServersPerSource: wholeNumber('--max-servers-per-source <n>', 'servers registered at once from one source address (all of loopback is one)', 4096, 1, 10_000_000),
  registrationRate: wholeNumber('--registration-rate <n>', 'registrations per second from one source address (a second\'s worth may come at once)', 100, 1, 1_000_000),
  /** 64: a host is routinely given a whole /64 and could otherwise rotate addresses for fresh budgets (guarantees.md, Rate). */
  ipv6SourcePrefix: wholeNumber('--ipv6-source-prefix <bits>', 'an IPv6 source counts by this prefix for --registration-rate and --max-servers-per-source', 64, 1, 128),
  /** With tlsKey, both listeners speak TLS (the packet port, and the HTTP port when it is on). */
  tlsCert: optional(text('--tls-cert <file>', 'PEM certificate: the listeners speak TLS (with --tls-key)', '')),
  tlsKey: optional(text('--tls-key <file>', 'PEM private key of --tls-cert', '')),
  serverCa: optional(text('--server-ca <file>', 'PEM CA that certificates of servers registering with tls must chain to (default: Node\'s CAs)', '')),
  trace: flag('--trace', 'log every routing decision, and stream it to the dashboard (switchable at run time)'),
  traceSample: fraction('--trace-sample <fraction>', 'fraction of routing decisions traced, e.g. 0.01 under heavy load', 1),
  /**
   * ES modules whose default export is an interceptor or a list of them (docs/hooks.md), loaded
   * by the command at start. A program passes `interceptors` instead (loadPlugins() reads files).
   */
  plugin: fileList('--plugin <file>', 'ES module whose default export is an interceptor or a list of them (docs/hooks.md); repeatable, or comma-separated'),

  // The HTTP front end (docs/http.md): off unless httpPort is set.

  httpPort: optional(wholeNumber('--http-port <port>', 'serve HTTP on this port too (0 = any free port; off unless given)', 0, 0, 65535)),
  httpHost: optional(text('--http-host <address>', 'address of the HTTP listener (default: --host)', '')),
  httpPolicy: wholeNumber('--http-policy <n>', 'policy of requests without an X-Privacy-Policy header', 111, 0),
  httpServers: backendList('--servers <file>', 'static HTTP backends: {"backend_servers":[{"ip":…,"port":…,"policy"?:…},…]}'),
  httpToken: optional(text('--http-token <token>', 'HTTP requests must carry Authorization: Bearer <token>', '')),
  /** Unset: --http-token; with neither, the API takes changes only while every listener is on loopback. */
  adminToken: optional(text('--admin-token <token>', 'the runtime API\'s changes (drain, weights, reload: /_broker/api/) need Authorization: Bearer <token> (default: --http-token)', '', printable('must be'))),
  upstreamToken: optional(text('--upstream-token <token>', 'sent to HTTP backends as Authorization: Bearer <token>', '', printable('must be'))),
  adminPrefix: text('--admin-prefix <path>', 'path prefix of the broker\'s own pages (status, health), never proxied', '/_broker/', (v) =>
    /^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)+$/.test(v) ? undefined : `must be a path that starts and ends with "/", like /_broker/, got "${v}"`,
  ),
  /** The command runs them (cluster/primary.ts); createBroker() is always one process. */
  workers: processCount('--workers <n>', 'HTTP worker processes (needs --http-port; "auto" = one per CPU; 0 = HTTP in this process)', 1024),
  httpMaxConnections: wholeNumber('--http-max-connections <n>', 'open HTTP client connections; past it requests get 503', 10000, 1, 10_000_000),
  httpMaxInflight: wholeNumber('--http-max-inflight <n>', 'HTTP requests proxied at once; past it 503', 10000, 1, 10_000_000),
  httpMaxHeaderBytes: wholeNumber('--http-max-header-bytes <n>', 'longest request head accepted; longer gets 400', 16 * 1024, 1024, 1024 * 1024),
  httpHeadersTimeoutMs: wholeNumber('--http-headers-timeout <ms>', 'time a client has to send a request head', 10 * SECOND, 1, HOUR),
  httpKeepAliveTimeoutMs: wholeNumber('--http-keep-alive-timeout <ms>', 'idle time before a keep-alive client connection is closed', 5 * SECOND, 1, HOUR),
  httpSocketTimeoutMs: wholeNumber('--http-socket-timeout <ms>', 'close a client connection with no bytes either way this long (0 = never)', 60 * SECOND, 0, DAY),
  httpUpgradeIdleTimeoutMs: wholeNumber('--http-upgrade-idle-timeout <ms>', 'close an upgraded connection (WebSocket) with no bytes either way this long (0 = never)', 10 * 60 * SECOND, 0, DAY),
  /** Read once at start; replaces Node's CAs for HTTPS backends (as --server-ca for TLS servers). */
  backendCa: optional(text('--backend-ca <file>', 'PEM CA that certificates of HTTPS backends ("tls": true in servers.conf, httptls in a registration) must chain to (default: Node\'s CAs)', '')),
  /** W3C Trace Context (trace/traceparent.ts): a valid one always goes on unchanged. */
  traceparent: oneOf('--traceparent <mode>', 'W3C traceparent to backends: generate (one made when absent or invalid) or pass (left as the client sent it)', 'generate', ['generate', 'pass'] as const),
  trustForwarded: flag('--trust-forwarded', 'pass the client\'s Forwarded and X-Real-IP headers on (behind a proxy that sets them); else they are removed'),
  upstreamTimeoutMs: wholeNumber('--upstream-timeout <ms>', 'time a backend has for its response head, and the longest gap in its body', 30 * SECOND, 1, DAY),
  upstreamConnectTimeoutMs: wholeNumber('--upstream-connect-timeout <ms>', 'time to connect to a backend', 5 * SECOND, 1, HOUR),
  upstreamConnections: wholeNumber('--upstream-connections <n>', 'connections kept per backend at most (3 backends in one stock nginx stay under its 512 or 768 worker_connections)', 128, 1, 100_000),
  /** Unset: `/`, passing on any status below 500, which a stock web server (an nginx site with no /health) passes. */
  healthPath: optional(text('--health-path <path>', 'path of the active health check, passing on 2xx/3xx (default: / passing on any status below 500)', '', (v) =>
    v.startsWith('/') && /^[\x21-\x7e]+$/.test(v) ? undefined : `must be a path starting with "/", got "${v}"`,
  )),
  healthIntervalMs: wholeNumber('--health-interval <ms>', 'time between active health checks (0 = passive health only)', 2 * SECOND, 0, HOUR),
  healthTimeoutMs: wholeNumber('--health-timeout <ms>', 'time a health check may take', SECOND, 1, HOUR),
  healthRise: wholeNumber('--health-rise <n>', 'passing checks in a row that bring a backend back', 2, 1, 1000),
  healthFall: wholeNumber('--health-fall <n>', 'failing checks in a row that take a backend out', 3, 1, 1000),
  maxFails: wholeNumber('--max-fails <n>', 'failed requests in a row, within --fail-timeout, that take an HTTP backend out (as nginx\'s max_fails)', 5, 1, 1000),
  failTimeoutMs: wholeNumber('--fail-timeout <ms>', 'the window of --max-fails; without active checks, also how long a failed backend stays out', 10 * SECOND, 1, DAY),

  // The registry shared with other brokers (docs/scale-out.md): in memory unless registry is set.

  /** redis://[user:password@]host:port[/db] (or rediss://): share the registry through Redis. */
  registry: optional(text('--registry <url>', 'share servers with other brokers through Redis: redis://[user:password@]host:port[/db] or rediss://, or through Redis Sentinel: redis+sentinel://[user:password@]host:port,host:port,.../MASTER_NAME (default: in memory, this broker only)', '', registryUrlProblem)),
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
export type BrokerOptions = { -readonly [K in OptionName]: Table[K] extends OptionSpec<infer T> ? T : never } & {
  logger: Logger;
  /**
   * Hooks that capture chosen requests and packets and change them (docs/hooks.md): run in
   * order on the way in, in reverse on the way out. Library only; the command loads --plugin files into it.
   */
  interceptors: Interceptor[];
};

/** Every default, from the table. */
export const BROKER_DEFAULTS = Object.fromEntries(Object.entries(BROKER_OPTIONS).map(([name, spec]) => [name, spec.default])) as Omit<BrokerOptions, 'logger' | 'interceptors'>;

/** Fills in the defaults and checks every value; values of unknown type (from a command line) are checked the same way. */
export function resolveBrokerOptions(input: Partial<BrokerOptions> | Partial<Record<OptionName | 'logger' | 'interceptors', unknown>> = {}): BrokerOptions {
  const given = input as Partial<Record<string, unknown>>;
  const options: Record<string, unknown> = { logger: given.logger ?? silentLogger(), interceptors: given.interceptors ?? [] };
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
  if (options.plugin.length > 0) {
    throw new OptionError('plugin', 'plugin files are loaded by the policy-broker command; a program passes their interceptors (loadPlugins() reads the files)');
  }
  try {
    resolveInterceptors(options.interceptors);
  } catch (err) {
    if (err instanceof InterceptorError) throw new OptionError('interceptors', err.message);
    throw err;
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new OptionError(options.tlsCert === undefined ? 'tlsCert' : 'tlsKey', 'tlsCert and tlsKey go together');
  }
  if (options.insecureOpenRegistration && options.allowRegisterFrom.length > 0) {
    throw new OptionError('insecureOpenRegistration', 'cannot go with allowRegisterFrom: choose the allow-list or open registration');
  }
  if (options.workers > 0 && options.httpPort === undefined) {
    throw new OptionError('workers', '--workers needs --http-port: the workers serve HTTP (packets stay in one process)');
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
