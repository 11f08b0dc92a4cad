/** policy-broker/server-pool: packet servers that register with a broker and answer its packets. */
export { PacketServer, type PacketServerEvents } from './server.js';
export { createPool, startPool, poolIds, type PoolOptions, type ServerPool, type ServerInfo } from './pool.js';
export { handlers, HANDLER_NAMES, resolveHandler, sha1Hex, type Handler, type HandlerName } from './handlers.js';
export { SERVER_DEFAULTS, MAX_INFLIGHT, type PacketServerOptions, type BrokerAddress } from './options.js';
export { ServerError, STOPPED } from './errors.js';
