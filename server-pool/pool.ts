/**
 * Many servers of one policy in one process: ids from a list or counted up from a first id,
 * ports all 0 (any free port) or counted up from a first port.
 */
import { PacketServer } from './server.js';
import { checkInteger, SERVER_DEFAULTS, type PacketServerOptions } from './options.js';

export interface PoolOptions extends Omit<PacketServerOptions, 'id' | 'port' | 'httpPort'> {
  /** How many servers (default 1); ignored when `ids` is given. */
  count?: number;
  /** The first server's id (default 100); the others follow: id, id+1, … */
  id?: number;
  /** Explicit server ids; overrides `id` and `count`. */
  ids?: readonly number[];
  /** 0 (default): every server takes any free port; otherwise server i listens on port+i. */
  port?: number;
  /** With `http`, the same for the HTTP ports: 0 (default) any free port, else httpPort+i. */
  httpPort?: number;
}

/** What the ready line says about one server. */
export interface ServerInfo {
  id: number;
  policy: number;
  port: number;
  /** The HTTP port, for servers that serve HTTP. */
  httpPort?: number;
}

export interface ServerPool {
  readonly servers: readonly PacketServer[];
  /** The servers' listen ports, in order; 0 for a server not yet listening. */
  readonly ports: number[];
  /** Packets answered by all servers. */
  readonly served: number;
  /** Starts every server; resolves when all are registered. On any failure stops them all and rejects. */
  start(): Promise<void>;
  /** id, policy and port of each server, for the ready line. */
  describe(): ServerInfo[];
  /** Stops every server gracefully (see PacketServer.stop). */
  stop(): Promise<void>;
}

/** The ids a pool's options ask for; throws a RangeError on an empty list or duplicates. */
export function poolIds(options: Pick<PoolOptions, 'count' | 'id' | 'ids'>): number[] {
  if (options.ids !== undefined) {
    if (options.ids.length === 0) throw new RangeError('option ids must name at least one id');
    options.ids.forEach((id, i) => checkInteger(`ids[${i}]`, id, 0));
    if (new Set(options.ids).size !== options.ids.length) throw new RangeError('option ids must not repeat an id');
    return [...options.ids];
  }
  const count = options.count ?? 1;
  const first = options.id ?? SERVER_DEFAULTS.id;
  checkInteger('count', count, 1);
  checkInteger('id', first, 0);
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Creates the servers without starting them, so a caller can stop() even while start() waits. */
export function createPool(options: PoolOptions): ServerPool {
  const ids = poolIds(options);
  const basePort = options.port ?? 0;
  checkInteger('port', basePort, 0, 65535);
  if (basePort !== 0) checkInteger('port', basePort + ids.length - 1, 1, 65535);
  const baseHttpPort = options.httpPort ?? 0;
  checkInteger('httpPort', baseHttpPort, 0, 65535);
  if (baseHttpPort !== 0) checkInteger('httpPort', baseHttpPort + ids.length - 1, 1, 65535);
  const { count: _count, ids: _ids, ...shared } = options;
  const servers = ids.map(
    (id, i) =>
      new PacketServer({
        ...shared,
        id,
        port: basePort === 0 ? 0 : basePort + i,
        httpPort: options.http === true ? (baseHttpPort === 0 ? 0 : baseHttpPort + i) : undefined,
      }),
  );
  return {
    servers,
    get ports() {
      return servers.map((server) => server.port);
    },
    get served() {
      return servers.reduce((sum, server) => sum + server.served, 0);
    },
    async start() {
      let firstError: unknown;
      const stopAll = (err: unknown) => {
        if (firstError !== undefined) return undefined;
        // One failure ends the whole start: the others may be waiting for a broker forever.
        firstError = err;
        return Promise.all(servers.map((server) => server.stop()));
      };
      await Promise.all(servers.map((server) => server.start().catch(stopAll)));
      if (firstError !== undefined) throw firstError;
    },
    describe() {
      return servers.map((server) => {
        const info: ServerInfo = { id: server.id, policy: server.policy, port: server.port };
        if (server.httpPort !== undefined) info.httpPort = server.httpPort;
        return info;
      });
    },
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/** Creates and starts a pool; resolves when every server is registered. */
export async function startPool(options: PoolOptions): Promise<ServerPool> {
  const pool = createPool(options);
  await pool.start();
  return pool;
}
