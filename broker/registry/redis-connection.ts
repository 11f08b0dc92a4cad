/**
 * The broker's connection to the Redis that holds a shared registry: the URL checked up front,
 * the first connection made within a bounded time with each failure told apart (a wrong
 * password or something that is not Redis is a configuration error, not worth retrying),
 * scripts run with a timeout, and a second connection for the hints (pub/sub needs its own).
 * After the start the client reconnects by itself, forever; the store decides what an
 * unanswered call means.
 */
import { ScriptError } from './script-error.js';
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import { sha1Hex } from '../support/sha1.js';
import type { Logger } from '../support/logger.js';
import { RegistryError, type RegistryErrorCode, type RegistryUrl } from './registry-url.js';

export { parseRegistryUrl, RegistryError, type RegistryUrl } from './registry-url.js';

/** Sorts a connection failure: only UNREACHABLE is worth another try. */
export function classifyFailure(err: unknown): RegistryErrorCode {
  const message = err instanceof Error ? err.message : String(err);
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) return 'AUTH';
  if (/RESP|protocol error|parse/i.test(message)) return 'NOT_REDIS';
  return 'UNREACHABLE';
}

export interface ConnectionOptions {
  /** How long the first connection may take, retries included, before open() gives up. */
  connectTimeoutMs: number;
  /** How long a call may wait for its answer (a paused Redis answers late). */
  commandTimeoutMs: number;
  logger: Logger;
  /** CLIENT SETNAME, to tell brokers apart in Redis's CLIENT LIST. */
  name: string;
}

type Client = RedisClientType;


/** What the store needs of a connection (tests put a breakable one in between). */
export interface RegistryConnection {
  run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
}

const RETRY_MS = 250;
const MAX_RETRY_MS = 1000;

/** The Redis a connection writes to, and since when (a Sentinel failover changes it). */
export interface PrimaryInfo {
  /** host:port */
  readonly address: string;
  /** When it became the one in use (ms since the epoch). */
  readonly since: number;
  /** How many times it changed since the broker started. */
  readonly changes: number;
}

/**
 * Runs a script through `send` by its SHA, or by its text when Redis does not know it yet
 * (NOSCRIPT); an error reply becomes a ScriptError.
 */
export async function runScript(
  send: (command: string[]) => Promise<unknown>,
  shas: Map<string, string>,
  script: string,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = sha1Hex(script);
    shas.set(script, sha);
  }
  try {
    try {
      return await send(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await send(['EVAL', script, String(keys.length), ...keys, ...args]);
    }
  } catch (err) {
    if (err instanceof ErrorReply) throw new ScriptError(err.message);
    throw err;
  }
}

export class RedisConnection implements RegistryConnection {
  private readonly shas = new Map<string, string>();
  private closed = false;
  private readonly current: PrimaryInfo;

  private constructor(
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly options: ConnectionOptions,
    readonly display: string,
    address: string,
  ) {
    this.current = { address, since: Date.now(), changes: 0 };
  }

  /** Connects (both connections) within `connectTimeoutMs`, or rejects with a RegistryError. */
  static async open(url: RegistryUrl, options: ConnectionOptions): Promise<RedisConnection> {
    const deadline = Date.now() + options.connectTimeoutMs;
    const client = await connectOne(url, options, deadline, 'registry');
    let subscriber: Client;
    try {
      subscriber = await connectOne(url, options, deadline, 'hints');
    } catch (err) {
      client.destroy();
      throw err;
    }
    const { hostname, port } = new URL(url.url);
    return new RedisConnection(client, subscriber, options, url.display, `${hostname}:${port || 6379}`);
  }

  /** True while the command connection is up (calls may still time out on a paused Redis). */
  get ready(): boolean {
    return this.client.isReady;
  }

  /** Runs a script (by its SHA once Redis knows it); rejects after `commandTimeoutMs`. */
  run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const options = { timeout: this.options.commandTimeoutMs, rejectInFlight: true };
    return runScript((command) => this.client.sendCommand(command, options), this.shas, script, keys, args);
  }

  /** The Redis in use: the URL's, since the connection was opened. */
  primary(): PrimaryInfo {
    return this.current;
  }

  /** Calls `listener` with each message on `channel`, resubscribed after a reconnection. */
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.subscriber.subscribe(channel, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.client.close(), this.subscriber.close()]);
    this.client.destroy();
    this.subscriber.destroy();
  }
}

/** One connection: retried while unreachable until `deadline`; given up at once otherwise. */
async function connectOne(url: RegistryUrl, options: ConnectionOptions, deadline: number, role: string): Promise<Client> {
  let starting = true;
  let lastError = '';
  let lastLogged = '';
  const client: Client = createClient({
    url: url.url,
    name: `${options.name}/${role}`,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.max(100, Math.min(options.connectTimeoutMs, 5000)),
      reconnectStrategy: (retries: number, cause: Error) => {
        lastError = cause.message;
        const code = classifyFailure(cause);
        if (starting && (code !== 'UNREACHABLE' || Date.now() >= deadline)) return new RegistryError(code, describeFailure(code, url, cause));
        return Math.min(MAX_RETRY_MS, RETRY_MS * (retries + 1));
      },
    },
  });
  // The client reports every failed attempt; the store reports what matters (degraded, back).
  client.on('error', (err: Error) => {
    if (err.message !== lastLogged) options.logger.debug('registry connection error', { role, error: err.message });
    lastLogged = err.message;
  });
  const timer = setTimeout(() => {
    // Connected at the TCP level but no answer to the handshake: not a Redis that works.
    if (starting) client.destroy();
  }, Math.max(0, deadline - Date.now()) + 1000);
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.destroy();
    // The client wraps what reconnectStrategy returned (ReconnectStrategyError.originalError).
    const original = (err as { originalError?: unknown } | undefined)?.originalError;
    if (original instanceof RegistryError) throw original;
    if (err instanceof RegistryError) throw err;
    const code = classifyFailure(err);
    throw new RegistryError(code, describeFailure(code, url, new Error(lastError || (err instanceof Error ? err.message : String(err)))));
  } finally {
    starting = false;
    clearTimeout(timer);
  }
}

export function describeFailure(code: RegistryErrorCode, url: RegistryUrl, cause: Error): string {
  switch (code) {
    case 'AUTH':
      return `registry ${url.display}: Redis refused the credentials (${cause.message.split('.')[0]})`;
    case 'NOT_REDIS':
      return `registry ${url.display}: what answers there is not Redis (${cause.message})`;
    default:
      return `registry ${url.display}: Redis unreachable (${cause.message})`;
  }
}
