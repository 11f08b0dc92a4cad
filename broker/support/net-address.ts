/** A peer's address as people write it: without the IPv4-mapped IPv6 prefix ("::ffff:"). */
export function normalizeHost(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
