/**
 * Who may register, and what a registration may name. Checked before a registration reaches the
 * registry, in this order:
 *
 * 1. Connection rate: at most PER_CONNECTION_BURST registrations on one connection (then
 *    PER_CONNECTION_PER_SECOND). Past it: OVERLOADED, and the connection is closed.
 * 2. Address (protected mode, after Redis's): a broker that listens beyond loopback with no
 *    --registration-secret takes registrations only from loopback, this host's own addresses
 *    and --allow-register-from; --insecure-open-registration lifts that. An allow-list, when
 *    given, applies in every mode (with a secret too: both must hold).
 * 3. Secret: with --registration-secret, the registration must carry it.
 *    A registration refused by 2 or 3 takes a token of its source's own small bucket of
 *    refusals (REFUSED_BURST, then REFUSED_PER_SECOND), never of the bucket of 4: peers without
 *    the secret cannot spend the budget of those that have it. Past the refusals' bucket the
 *    refusal is the same but not logged, so a flood of them costs a refusal each and no log line.
 * 4. Source rate: --registration-rate a second from one source address (bursts of as many at
 *    once; every loopback address counts as one source, an IPv6 one by its /64). Past it:
 *    OVERLOADED, and the connection is closed.
 * 5. Count: at most --max-servers-per-source servers registered at once from one source
 *    (counted as for the rate): past it OVERLOADED, and the connection is closed.
 * 6. Target: the broker dials the registration's source address at `listenport` (and proxies
 *    HTTP to `httpport`); neither may be one of the broker's own listening sockets, or it would
 *    route its own traffic back to itself. With a wildcard listener (0.0.0.0, ::) every local
 *    address reaches it, whichever one the registration came from.
 *
 * Refusals of 1–5 close the connection; a refused target leaves it open (the peer may correct it).
 */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Registration } from '../protocol/packet-types.js';
import { AddressList, isLocalAddress, isLoopbackAddress, isWildcardAddress } from '../support/address-list.js';
import { normalizeHost } from '../support/net-address.js';
import { RateLimit } from '../support/rate-limit.js';
import { SecretCheck } from '../support/secret.js';

/** Registrations one connection may make at once, and then per second (a server registers once per connection). */
export const PER_CONNECTION_BURST = 16;
export const PER_CONNECTION_PER_SECOND = 4;
/**
 * A source address's burst, in seconds of --registration-rate: each registration admitted costs
 * a dial and an HTTP pool (~0.5 ms), and a burst is handled in one go, so a larger one would hold
 * other clients' packets back that long.
 */
const SOURCE_BURST_SECONDS = 1;
/** Refused registrations (address, secret) one source may make at once, then per second, logged. */
export const REFUSED_BURST = 10;
export const REFUSED_PER_SECOND = 5;

export type RegistrationMode = 'loopback' | 'protected' | 'secret' | 'open';

/** The options the guard reads (BrokerOptions has them: --registration-secret, --allow-register-from, …). */
export interface GuardSettings {
  readonly host: string;
  readonly registrationSecret?: string | undefined;
  readonly allowRegisterFrom: readonly string[];
  readonly insecureOpenRegistration: boolean;
  readonly registrationRate: number;
  readonly ipv6SourcePrefix: number;
  readonly maxServersPerSource: number;
}

export interface Refusal {
  code: ErrorCode;
  /** One line for the peer, with a hint of what to change. */
  message: string;
  /** The connection is closed after the refusal. */
  close: boolean;
  /** Not worth a log line: the source is past its bucket of refusals. */
  quiet?: boolean;
}

/** A registration's peer: what the guard reads of it. */
export interface RegistrationPeer {
  readonly host: string;
}

export class RegistrationGuard {
  readonly mode: RegistrationMode;
  private readonly secret: SecretCheck | undefined;
  private readonly allow: AddressList;
  /** Only loopback, local and allow-listed addresses may register. */
  private readonly restricted: boolean;
  private readonly perSource: RateLimit;
  private readonly refusedPerSource = new RateLimit(REFUSED_BURST, REFUSED_PER_SECOND);
  private readonly perConnection = new RateLimit(PER_CONNECTION_BURST, PER_CONNECTION_PER_SECOND);
  private readonly connectionBuckets = new WeakMap<RegistrationPeer, ReturnType<RateLimit['bucket']>>();

  constructor(
    private readonly options: GuardSettings,
    /** The broker's listening sockets (packet, HTTP): registrations may not name them. */
    private readonly ownListeners: () => Array<AddressInfo | undefined>,
    /** Servers registered now whose source (sourceKey) is `key`. */
    private readonly serversFrom: (key: string) => number = () => 0,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = options.registrationSecret === undefined ? undefined : new SecretCheck(options.registrationSecret);
    this.allow = new AddressList(options.allowRegisterFrom);
    const beyondLoopback = !isLoopbackAddress(options.host);
    this.restricted = this.allow.size > 0 || (beyondLoopback && this.secret === undefined && !options.insecureOpenRegistration);
    this.perSource = new RateLimit(options.registrationRate * SOURCE_BURST_SECONDS, options.registrationRate);
    if (this.secret !== undefined) this.mode = 'secret';
    else if (!beyondLoopback && this.allow.size === 0) this.mode = 'loopback';
    else this.mode = this.restricted ? 'protected' : 'open';
  }

  /** The start-up log's description of who may register. */
  describe(): string {
    const allowed = ['loopback', 'this host', ...this.allow.entries].join(', ');
    switch (this.mode) {
      case 'loopback':
        return 'listening on loopback: only this host can register';
      case 'secret':
        return this.restricted ? `registrations need the secret and must come from ${allowed}` : 'registrations need the secret';
      case 'protected':
        return `protected mode: registrations only from ${allowed} (--allow-register-from, --registration-secret or --insecure-open-registration to change)`;
      case 'open':
        return 'OPEN registration (--insecure-open-registration): anyone who reaches this port can register a server for any policy and receive its packets';
    }
  }

  /** Why `reg`, arriving from `peer`, is refused; undefined when it may go on to the registry. */
  check(peer: RegistrationPeer, reg: Registration): Refusal | undefined {
    const now = this.now();
    let bucket = this.connectionBuckets.get(peer);
    if (bucket === undefined) {
      bucket = this.perConnection.bucket(now);
      this.connectionBuckets.set(peer, bucket);
    }
    if (!this.perConnection.takeFrom(bucket, now)) {
      return overloaded(`more than ${PER_CONNECTION_BURST} registrations on one connection (then ${PER_CONNECTION_PER_SECOND} a second); register each server on its own connection`);
    }
    const source = sourceKey(peer.host, this.options.ipv6SourcePrefix);
    const refusal = this.unauthorized(peer, reg);
    if (refusal !== undefined) return this.refusedPerSource.take(source, now) ? refusal : { ...refusal, quiet: true };
    if (!this.perSource.take(source, now)) {
      return overloaded(`more than ${this.options.registrationRate} registrations a second from ${peer.host} (--registration-rate); retry later`);
    }
    if (this.serversFrom(source) >= this.options.maxServersPerSource) {
      return overloaded(`${this.options.maxServersPerSource} servers are registered from ${peer.host} already (--max-servers-per-source)`);
    }
    for (const [field, port] of [['listenport', reg.listenport], ['httpport', reg.httpport]] as const) {
      if (port !== undefined && this.isOwnSocket(peer.host, port)) {
        return { code: ErrorCode.BAD_PACKET, message: `${field} ${port} at ${peer.host} is the broker's own listening port: it would send its traffic to itself`, close: false };
      }
    }
    return undefined;
  }

  /** Why `peer` may not register at all (its address, the secret); undefined when it may. */
  private unauthorized(peer: RegistrationPeer, reg: Registration): Refusal | undefined {
    if (this.restricted && !this.allow.has(peer.host) && !isLocalAddress(peer.host)) {
      const hint =
        this.mode === 'protected'
          ? 'this broker listens beyond loopback without a secret, so only loopback and --allow-register-from may register; start it with --allow-register-from CIDR, --registration-secret or --insecure-open-registration'
          : 'start the broker with --allow-register-from including it';
      return { code: ErrorCode.UNAUTHORIZED, message: `registration refused: ${peer.host} may not register (${hint})`, close: true };
    }
    if (this.secret !== undefined && !this.secret.matches(reg.secret)) {
      return { code: ErrorCode.UNAUTHORIZED, message: 'registration refused: wrong or missing secret', close: true };
    }
    return undefined;
  }

  /** True when host:port reaches one of the broker's own listeners. */
  private isOwnSocket(host: string, port: number): boolean {
    for (const listener of this.ownListeners()) {
      if (listener === undefined || listener.port !== port) continue;
      const bound = normalizeHost(listener.address);
      if (isWildcardAddress(bound) ? isLocalAddress(host) : bound === normalizeHost(host)) return true;
    }
    return false;
  }
}

function overloaded(message: string): Refusal {
  return { code: ErrorCode.OVERLOADED, message: `registration refused: ${message}`, close: true };
}

/**
 * The key a source address is rate-limited under: every loopback address is one source (any
 * local user may pick among 127.0.0.0/8), an IPv6 address counts by its first `ipv6Prefix`
 * bits (--ipv6-source-prefix, default 64: one host's usual share).
 */
export function sourceKey(address: string, ipv6Prefix = 64): string {
  const host = normalizeHost(address);
  if (isLoopbackAddress(host)) return 'loopback';
  if (isIP(host) !== 6) return host;
  let bits = 0n;
  for (const group of expandIpv6(host)) bits = (bits << 16n) | BigInt(parseInt(group || '0', 16) & 0xffff);
  const kept = BigInt(Math.max(0, Math.min(128, ipv6Prefix)));
  const masked = kept === 0n ? 0n : (bits >> (128n - kept)) << (128n - kept);
  return `${masked.toString(16)}/${kept}`;
}

/** The eight groups of an IPv6 address, '::' expanded. */
function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => '0');
  return [...left, ...fill, ...right];
}
