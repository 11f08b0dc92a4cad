/**
 * The registry's connection through Redis Sentinel (`--registry redis+sentinel://…`). The
 * `redis` client's own Sentinel support (createSentinel) does what Redis asks of a Sentinel
 * client: it asks the Sentinels for the primary of the name, follows their `+switch-master`
 * announcements, and asks again when the primary is lost or answers READONLY (it was demoted).
 * This file adds what the broker needs around it:
 * - every call bounded in time: while a failover is in progress the store becomes degraded
 *   (routing goes on from its view) instead of waiting for a primary;
 * - the primary in use and when it last changed, for the status page and the metrics, with
 *   its role checked (ROLE) after each change;
 * - `onPrimaryChange`, so the store writes back what it owns at once rather than at its next
 *   resync (a promoted replica may lack the last writes the old primary acknowledged).
 */
import { createSentinel, type RedisSentinelType } from 'redis';
import { classifyFailure, describeFailure, runScript, type ConnectionOptions, type PrimaryInfo, type RegistryConnection } from './redis-connection.js';
import { RegistryError, type RegistryUrl, type SentinelUrl } from './registry-url.js';

type Sentinel = RedisSentinelType;

export class SentinelConnection implements RegistryConnection {
  private readonly shas = new Map<string, string>();
  private current: PrimaryInfo;
  private closed = false;
  /** Called after the primary changed (a failover), once its role is checked. */
  onPrimaryChange: ((primary: PrimaryInfo) => void) | undefined;

  private constructor(
    private readonly sentinel: Sentinel,
    private readonly options: ConnectionOptions,
    readonly display: string,
  ) {
    this.current = { address: addressOf(sentinel), since: Date.now(), changes: 0 };
    sentinel.on('topology-change', (event: { type: string; node: { host: string; port: number } }) => {
      if (event.type === 'MASTER_CHANGE') this.primaryChanged(`${event.node.host}:${event.node.port}`);
    });
  }

  /** Asks the Sentinels for the primary and connects to it within `connectTimeoutMs`, or rejects with a RegistryError. */
  static async open(url: RegistryUrl, options: ConnectionOptions): Promise<SentinelConnection> {
    const config = url.sentinel!;
    const sentinel = createSentinel(sentinelOptions(config, options)) as unknown as Sentinel;
    let lastError: unknown;
    sentinel.on('error', (err: unknown) => {
      lastError = err;
      options.logger.debug('registry Sentinel client error', { error: err instanceof Error ? err.message : String(err) });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no primary of ${JSON.stringify(config.name)} within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    });
    try {
      await Promise.race([sentinel.connect(), timeout]);
    } catch (err) {
      void sentinel.destroy().catch(() => undefined);
      const cause = lastError instanceof Error && !(err instanceof Error && err.message.startsWith('no primary')) ? lastError : (err as Error);
      const code = classifyFailure(cause);
      throw new RegistryError(code, describeFailure(code, url, cause instanceof Error ? cause : new Error(String(cause))));
    } finally {
      clearTimeout(timer);
    }
    const connection = new SentinelConnection(sentinel, options, url.display);
    await connection.checkRole();
    return connection;
  }

  /** True while a primary is connected. */
  get ready(): boolean {
    return this.sentinel.isReady;
  }

  /** The primary in use, since when, and how many failovers this broker followed. */
  primary(): PrimaryInfo {
    return this.current;
  }

  /** Runs a script on the primary; rejects after `commandTimeoutMs` (also while the Sentinels elect a new one). */
  run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const limit = this.options.commandTimeoutMs;
    const send = (command: string[]): Promise<unknown> => this.sentinel.sendCommand(false, command, { timeout: limit });
    return bounded(runScript(send, this.shas, script, keys, args), limit);
  }

  /** Calls `listener` with each message on `channel`: the client subscribes again on each new primary. */
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.sentinel.subscribe(channel, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sentinel.close().catch(() => this.sentinel.destroy());
  }

  private primaryChanged(address: string): void {
    if (this.closed || address === this.current.address) return;
    const from = this.current.address;
    this.current = { address, since: Date.now(), changes: this.current.changes + 1 };
    this.options.logger.warn('registry: the Sentinels switched the primary; following it', { from, to: address });
    void this.checkRole().then(() => this.onPrimaryChange?.(this.current));
  }

  /** Logs when what the Sentinels named primary does not say it is one (it will answer READONLY, and the client asks again). */
  private async checkRole(): Promise<void> {
    try {
      const role = (await bounded(this.sentinel.sendCommand(false, ['ROLE'], { timeout: this.options.commandTimeoutMs }), this.options.commandTimeoutMs)) as unknown[];
      if (role[0] !== 'master') this.options.logger.warn('registry: the primary the Sentinels named is not one yet', { address: this.current.address, role: String(role[0]) });
    } catch (err) {
      this.options.logger.debug('registry: ROLE unanswered', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function sentinelOptions(config: SentinelUrl, options: ConnectionOptions): Parameters<typeof createSentinel>[0] {
  const socket = { connectTimeout: Math.max(100, Math.min(options.connectTimeoutMs, 5000)), ...(config.tls && { tls: true as const }) };
  return {
    name: config.name,
    sentinelRootNodes: config.nodes.map((n) => ({ host: n.host, port: n.port })),
    nodeClientOptions: {
      name: `${options.name}/registry`,
      disableOfflineQueue: true,
      ...(config.username !== undefined && { username: config.username }),
      ...(config.password !== undefined && { password: config.password }),
      socket,
    },
    sentinelClientOptions: { socket },
    masterPoolSize: 1,
    // Re-asking the Sentinels after each lost primary: a failover takes a few seconds.
    maxCommandRediscovers: 1000,
  };
}

function addressOf(sentinel: Sentinel): string {
  const node = sentinel.getMasterNode();
  return node === undefined ? 'unknown' : `${node.host}:${node.port}`;
}

/** `promise`, or a rejection after `ms`. */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the registry did not answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

