/**
 * How a registry entry is written in Redis, and read back. A record is a hash: `g` the
 * generation, `e` the entry's other fields as JSON, `d` "1" once draining. The generation sits
 * outside the JSON so the scripts compare it without decoding (Lua's cjson prints large numbers
 * with 14 digits). Nothing secret is in it: registration secrets are checked and dropped before.
 * A record written by something else (an older version, a hand edit) may not parse: the caller
 * skips it and logs why.
 */
import type { ServerEntry } from './store.js';

/** The fields of the JSON part, as written. */
type Stored = Omit<ServerEntry, 'id' | 'generation' | 'draining'>;

/** The JSON part of a record. */
export function encodeEntry(entry: ServerEntry): string {
  const stored: Stored = {
    policy: entry.policy,
    host: entry.host,
    packetPort: entry.packetPort,
    httpPort: entry.httpPort,
    maxInflight: entry.maxInflight,
    session: entry.session,
    tls: entry.tls,
    registeredAt: entry.registeredAt,
    owner: entry.owner,
    ...(entry.weight !== undefined && { weight: entry.weight }),
    ...(entry.httpTls === true && { httpTls: true }),
    ...(entry.admin !== undefined && entry.admin !== 'enabled' && { admin: entry.admin }),
  };
  return JSON.stringify(stored);
}

/** A generation as the scripts compare it: decimal digits, no exponent. */
export function generationText(generation: number): string {
  return generation.toFixed(0);
}

/** The entry of a record, or why it does not parse. */
export function decodeEntry(id: string, generation: string, json: string, draining: string): ServerEntry | string {
  const idNumber = Number(id);
  const gen = Number(generation);
  if (!Number.isSafeInteger(idNumber) || idNumber < 0) return `bad id ${JSON.stringify(id)}`;
  if (!/^\d+$/.test(generation) || !Number.isSafeInteger(gen)) return `bad generation ${JSON.stringify(generation)}`;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return 'entry is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'entry is not an object';
  const v = value as Record<string, unknown>;
  const problem =
    check(v, 'policy', isPolicy) ??
    check(v, 'host', (x) => typeof x === 'string' && x.length > 0 && x.length <= 255) ??
    check(v, 'packetPort', optional(isPort)) ??
    check(v, 'httpPort', optional(isPort)) ??
    check(v, 'maxInflight', (x) => Number.isSafeInteger(x) && (x as number) > 0) ??
    check(v, 'session', isBoolean) ??
    check(v, 'tls', isBoolean) ??
    check(v, 'registeredAt', (x) => Number.isSafeInteger(x)) ??
    check(v, 'owner', (x) => typeof x === 'string' && x.length > 0 && x.length <= 200) ??
    check(v, 'weight', optional((x) => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 1000)) ??
    check(v, 'httpTls', optional(isBoolean)) ??
    check(v, 'admin', optional((x) => x === 'drain' || x === 'disabled'));
  if (problem !== undefined) return problem;
  if (v.packetPort === undefined && v.httpPort === undefined) return 'entry has neither a packet port nor an HTTP port';
  const s = v as unknown as Stored;
  return {
    id: idNumber,
    policy: s.policy,
    host: s.host,
    packetPort: s.packetPort,
    httpPort: s.httpPort,
    maxInflight: s.maxInflight,
    session: s.session,
    tls: s.tls,
    registeredAt: s.registeredAt,
    owner: s.owner,
    ...(s.weight !== undefined && { weight: s.weight }),
    ...(s.httpTls === true && { httpTls: true }),
    ...(s.admin !== undefined && { admin: s.admin }),
    generation: gen,
    draining: draining === '1',
  };
}

function check(v: Record<string, unknown>, field: string, ok: (x: unknown) => boolean): string | undefined {
  return ok(v[field]) ? undefined : `bad ${field} ${JSON.stringify(v[field])}`;
}

function optional(ok: (x: unknown) => boolean): (x: unknown) => boolean {
  return (x) => x === undefined || ok(x);
}

function isPort(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) > 0 && (x as number) < 65536;
}

function isPolicy(x: unknown): boolean {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isBoolean(x: unknown): boolean {
  return typeof x === 'boolean';
}
