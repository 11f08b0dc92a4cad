/**
 * The HTTP front end's command-line options (each also an environment variable) and their
 * mapping onto BrokerOptions. main.ts adds them beside the packet options.
 */
import type { Option } from 'commander';
import { BROKER_DEFAULTS, OptionError, type BrokerOptions } from '../options.js';
import { envOption, integer } from '../support/cli.js';
import { loadServersFile, ServersFileError } from './servers-file.js';

const d = BROKER_DEFAULTS;

/** The HTTP options, for a program whose environment prefix is `prefix`. */
export function httpOptions(prefix: string): Option[] {
  const o = (flags: string, description: string) => envOption(prefix, flags, description);
  return [
    o('--http-port <port>', 'serve HTTP on this port too (0 = any free port; off unless given)').argParser(integer(0, 65535)),
    o('--http-host <address>', 'address of the HTTP listener (default: --host)'),
    o('--http-policy <n>', 'policy of requests without an X-Privacy-Policy header').argParser(integer(0)).default(d.httpPolicy),
    o('--servers <file>', 'static HTTP backends: {"backend_servers":[{"ip":…,"port":…,"policy"?:…},…]}'),
    o('--http-token <token>', 'HTTP requests must carry Authorization: Bearer <token>'),
    o('--upstream-token <token>', 'sent to HTTP backends as Authorization: Bearer <token>'),
    o('--admin-prefix <path>', 'path prefix of the broker\'s own pages (status, health), never proxied').default(d.adminPrefix),
    o('--http-max-connections <n>', 'open HTTP client connections; past it requests get 503').argParser(integer(1)).default(d.httpMaxConnections),
    o('--http-max-inflight <n>', 'HTTP requests proxied at once; past it 503').argParser(integer(1)).default(d.httpMaxInflight),
    o('--http-max-header-bytes <n>', 'longest request head accepted; longer gets 400').argParser(integer(1024, 1024 * 1024)).default(d.httpMaxHeaderBytes),
    o('--http-headers-timeout <ms>', 'time a client has to send a request head').argParser(integer(1)).default(d.httpHeadersTimeoutMs),
    o('--http-keep-alive-timeout <ms>', 'idle time before a keep-alive client connection is closed').argParser(integer(1)).default(d.httpKeepAliveTimeoutMs),
    o('--http-socket-timeout <ms>', 'close a client connection with no bytes either way this long (0 = never)').argParser(integer(0)).default(d.httpSocketTimeoutMs),
    o('--upstream-timeout <ms>', 'time a backend has for its response head, and the longest gap in its body').argParser(integer(1)).default(d.upstreamTimeoutMs),
    o('--upstream-connect-timeout <ms>', 'time to connect to a backend').argParser(integer(1)).default(d.upstreamConnectTimeoutMs),
    o('--upstream-connections <n>', 'connections kept per backend at most').argParser(integer(1, 100_000)).default(d.upstreamConnections),
    o('--health-path <path>', 'path of the active health check, passing on 2xx/3xx (default: / passing on any status below 500)'),
    o('--health-interval <ms>', 'time between active health checks (0 = passive health only)').argParser(integer(0)).default(d.healthIntervalMs),
    o('--health-timeout <ms>', 'time a health check may take').argParser(integer(1)).default(d.healthTimeoutMs),
    o('--health-rise <n>', 'passing checks in a row that bring a backend back').argParser(integer(1, 1000)).default(d.healthRise),
    o('--health-fall <n>', 'failing checks in a row that take a backend out').argParser(integer(1, 1000)).default(d.healthFall),
    o('--fail-timeout <ms>', 'without active checks: how long a failed backend stays out').argParser(integer(1)).default(d.failTimeoutMs),
  ];
}

/** BrokerOptions from the parsed HTTP options; reads --servers (an OptionError names a bad file). */
export function httpSettings(opts: Record<string, unknown>): Partial<BrokerOptions> {
  let httpServers: BrokerOptions['httpServers'] | undefined;
  if (typeof opts.servers === 'string') {
    try {
      httpServers = loadServersFile(opts.servers);
    } catch (err) {
      if (err instanceof ServersFileError) throw new OptionError('servers', err.message);
      throw err;
    }
  }
  return {
    httpPort: opts.httpPort as number | undefined,
    httpHost: opts.httpHost as string | undefined,
    httpPolicy: opts.httpPolicy as number,
    httpServers,
    httpToken: opts.httpToken as string | undefined,
    upstreamToken: opts.upstreamToken as string | undefined,
    adminPrefix: opts.adminPrefix as string,
    httpMaxConnections: opts.httpMaxConnections as number,
    httpMaxInflight: opts.httpMaxInflight as number,
    httpMaxHeaderBytes: opts.httpMaxHeaderBytes as number,
    httpHeadersTimeoutMs: opts.httpHeadersTimeout as number,
    httpKeepAliveTimeoutMs: opts.httpKeepAliveTimeout as number,
    httpSocketTimeoutMs: opts.httpSocketTimeout as number,
    upstreamTimeoutMs: opts.upstreamTimeout as number,
    upstreamConnectTimeoutMs: opts.upstreamConnectTimeout as number,
    upstreamConnections: opts.upstreamConnections as number,
    healthPath: opts.healthPath as string | undefined,
    healthIntervalMs: opts.healthInterval as number,
    healthTimeoutMs: opts.healthTimeout as number,
    healthRise: opts.healthRise as number,
    healthFall: opts.healthFall as number,
    failTimeoutMs: opts.failTimeout as number,
  };
}
