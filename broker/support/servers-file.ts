/**
 * servers.conf: static HTTP backends in the classic format,
 * `{"backend_servers":[{"ip":"127.0.0.1","port":8001},…]}`, each entry optionally with a
 * `policy` (entries without one serve the default HTTP policy, --http-policy) and a `weight`
 * (1-1000, default 1: its share of its policy's requests, as nginx's `server … weight=`), and
 * `"tls": true` to reach it over HTTPS (its certificate verified; `"servername"` the name sent as
 * SNI and checked in its certificate, else its address).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** One static backend: where it listens and, optionally, the policy it serves. */
export interface StaticBackend {
  host: string;
  port: number;
  /** undefined: the default HTTP policy. */
  policy?: number | undefined;
  /** 1-1000; undefined: 1. */
  weight?: number | undefined;
  /** Reached over HTTPS; undefined: plain HTTP. */
  tls?: boolean | undefined;
  /** With tls: the SNI name, and the name its certificate must carry (else its address). */
  servername?: string | undefined;
}

/** A DNS name, as SNI carries it (no IP address: SNI names hosts only). */
const HOSTNAME = /^(?=.{1,253}$)(?!\d+(?:\.\d+){3}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A servers.conf that cannot be used; the message names the file and the entry. */
export class ServersFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServersFileError';
  }
}

/** Parses the text of a servers.conf; `source` names it in errors. */
export function parseServersConf(text: string, source = 'servers.conf'): StaticBackend[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ServersFileError(`${source}: not JSON: ${(err as Error).message}`);
  }
  const list = (doc as { backend_servers?: unknown } | null)?.backend_servers;
  if (doc === null || typeof doc !== 'object' || !Array.isArray(list)) {
    throw new ServersFileError(`${source}: expected {"backend_servers":[{"ip":…,"port":…},…]}`);
  }
  const seen = new Set<string>();
  return list.map((entry: unknown, i): StaticBackend => {
    const where = `${source}: backend_servers[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ServersFileError(`${where}: expected an object`);
    const { ip, host, port, policy, weight, tls, servername } = entry as Record<string, unknown>;
    const address = ip ?? host;
    if (typeof address !== 'string' || address.trim() === '') throw new ServersFileError(`${where}: "ip" must be an address`);
    const trimmed = address.trim();
    if (isIP(trimmed) === 0 && !/^[A-Za-z0-9.-]+$/.test(trimmed)) throw new ServersFileError(`${where}: "ip" is not an address: ${trimmed}`);
    const portNumber = wholeNumber(port);
    if (portNumber === undefined || portNumber < 1 || portNumber > 65535) throw new ServersFileError(`${where}: "port" must be 1-65535`);
    let policyNumber: number | undefined;
    if (policy !== undefined && policy !== null) {
      policyNumber = wholeNumber(policy);
      if (policyNumber === undefined || policyNumber < 0) throw new ServersFileError(`${where}: "policy" must be a whole number`);
    }
    let weightNumber: number | undefined;
    if (weight !== undefined && weight !== null) {
      weightNumber = wholeNumber(weight);
      if (weightNumber === undefined || weightNumber < 1 || weightNumber > 1000) throw new ServersFileError(`${where}: "weight" must be a whole number from 1 to 1000`);
    }
    if (tls !== undefined && tls !== null && typeof tls !== 'boolean') throw new ServersFileError(`${where}: "tls" must be true or false`);
    if (servername !== undefined && servername !== null) {
      if (typeof servername !== 'string' || !HOSTNAME.test(servername)) throw new ServersFileError(`${where}: "servername" must be a host name`);
      if (tls !== true) throw new ServersFileError(`${where}: "servername" needs "tls": true`);
    }
    const key = `${trimmed}:${portNumber} for policy ${policyNumber ?? '(default)'}`;
    if (seen.has(key)) throw new ServersFileError(`${where}: ${key} is listed twice`);
    seen.add(key);
    return { host: trimmed, port: portNumber, policy: policyNumber, ...(weightNumber !== undefined && { weight: weightNumber }),
      ...(tls === true && { tls: true }), ...(typeof servername === 'string' && { servername }) };
  });
}

/** The file each list loadServersFile() read came from: what a reload reads again. */
const sources = new WeakMap<readonly StaticBackend[], string>();

/** The servers.conf a list of backends was read from, if it was read from one. */
export function serversFileOf(list: readonly StaticBackend[]): string | undefined {
  return sources.get(list);
}

/** Reads and parses a servers.conf. */
export function loadServersFile(path: string): StaticBackend[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ServersFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const list = parseServersConf(text, path);
  sources.set(list, path);
  return list;
}

/** Numbers and numeric strings, as the classic scripts write them. */
function wholeNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}
