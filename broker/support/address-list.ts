/**
 * Addresses and CIDR blocks, for deciding who may register and what is the broker itself:
 * loopback, this host's own addresses, and allow-lists like "10.0.0.0/8,fd00::/8".
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { normalizeHost } from './net-address.js';

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  const host = normalizeHost(address);
  return host === '::1' || host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** True for the wildcard addresses a listener binds to serve every interface. */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

/** True when `address` is loopback or one of this host's interface addresses (read now: interfaces change). */
export function isLocalAddress(address: string): boolean {
  const host = normalizeHost(address);
  if (isLoopbackAddress(host) || isWildcardAddress(host)) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (normalizeHost(info.address) === host) return true;
  }
  return false;
}

/** A set of CIDR blocks (bare addresses count as /32 or /128), as given to --allow-register-from. */
export class AddressList {
  private readonly blocks = new BlockList();
  readonly entries: readonly string[];

  /** Throws an Error naming the first entry that is not an address or a CIDR block. */
  constructor(entries: readonly string[]) {
    const kept: string[] = [];
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '') continue;
      const [address, prefixText, extra] = entry.split('/');
      const family = isIP(address ?? '');
      const max = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === '') {
        throw new Error(`"${entry}" is not an address or a CIDR block like 10.0.0.0/8`);
      }
      this.blocks.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6');
      kept.push(entry);
    }
    this.entries = kept;
  }

  get size(): number {
    return this.entries.length;
  }

  /** True when `address` (a peer's, possibly IPv4-mapped) is in one of the blocks. */
  has(address: string): boolean {
    const host = normalizeHost(address);
    const family = isIP(host);
    if (family === 0) return false;
    return this.blocks.check(host, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Splits a comma-separated list ("10.0.0.0/8, 192.168.1.7") into entries. */
export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
