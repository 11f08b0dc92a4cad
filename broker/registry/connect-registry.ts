/**
 * Connects a Redis store to its Redis (--registry): a plain connection or through Sentinel,
 * the client loaded only here, so that a broker without --registry never loads it.
 */
import type { Logger } from '../support/logger.js';
import type { RedisConnection } from './redis-connection.js';
import type { RedisStore } from './redis-store.js';
import { parseRegistryUrl } from './registry-url.js';
import type { SentinelConnection } from './sentinel-connection.js';

export type RegistryConnectionHandle = RedisConnection | SentinelConnection;

/** The options it reads (BrokerOptions has them). */
export interface RegistrySettings {
  readonly registry?: string | undefined;
  readonly registryPrefix: string;
  readonly registryWaitMs: number;
  readonly registryResyncMs: number;
  readonly logger: Logger;
}

/** Opens the connection, starts `store` on it (the shared view is loaded); resolves with the connection, for the status page and the stop. */
export async function connectRegistry(store: RedisStore, options: RegistrySettings, brokerId: string): Promise<RegistryConnectionHandle> {
  const log = options.logger;
  const url = parseRegistryUrl(options.registry!);
  const settings = { connectTimeoutMs: options.registryWaitMs, commandTimeoutMs: Math.max(250, options.registryResyncMs), logger: log, name: `policy-broker/${brokerId}` };
  let connection: RegistryConnectionHandle;
  if (url.sentinel === undefined) {
    const { RedisConnection } = await import('./redis-connection.js');
    connection = await RedisConnection.open(url, settings);
  } else {
    const { SentinelConnection } = await import('./sentinel-connection.js');
    const sentinel = await SentinelConnection.open(url, settings);
    // A promoted replica may lack the last writes the old primary acknowledged: write back now.
    sentinel.onPrimaryChange = () => void store.resync();
    connection = sentinel;
  }
  await store.start(connection);
  log.info('shared registry connected', { url: url.display, prefix: options.registryPrefix, brokerId, servers: (await store.list()).length });
  return connection;
}
