/**
 * Every broker default in one place, and the check of user options up front with an error
 * that names the option.
 */
import { silentLogger, type Logger } from './support/logger.js';
import { isStrategyName, STRATEGY_NAMES, type StrategyName } from './registry/strategies/index.js';

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
  /** Closes a connection with no traffic for this long; 0 = never. */
  idleTimeoutMs: number;
  /** Open connections accepted at once on the packet port. */
  maxConnections: number;
  logger: Logger;
}

export const BROKER_DEFAULTS: Omit<BrokerOptions, 'logger' | 'registrationSecret'> = {
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
  idleTimeoutMs: 0,
  maxConnections: 20000,
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
  const options: BrokerOptions = { ...BROKER_DEFAULTS, registrationSecret: undefined, logger: silentLogger(), ...defined };
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
  checkInteger('maxConnections', options.maxConnections, 1, 10_000_000);
  if (options.registrationSecret === '') throw new OptionError('registrationSecret', 'must not be empty');
  return options;
}

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(name, `must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
}
