/**
 * Interceptors checked once, up front, with an error that names the interceptor and the field,
 * and resolved into the form the runners use (defaults filled in, matching precomputed).
 */
import type { BufferLimit, Interceptor } from './interceptor.js';

export const HOOK_DEFAULTS = {
  timeoutMs: 1000,
  failMode: 'closed',
  onOverflow: 'passthrough',
} as const;

/** Thrown for an interceptor that cannot work. */
export class InterceptorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterceptorError';
  }
}

/** An interceptor as the runners use it. */
export interface Hook {
  readonly name: string;
  readonly def: Interceptor;
  readonly timeoutMs: number;
  readonly failOpen: boolean;
  readonly bufferRequest: Required<BufferLimit> | undefined;
  readonly bufferResponse: Required<BufferLimit> | undefined;
  /** Has onRequest or onResponse. */
  readonly http: boolean;
  /** Sees client packets (onPacket and type 0 matched). */
  readonly onPacket: boolean;
  /** Sees replies (onReply and type 2 matched). */
  readonly onReply: boolean;
}

const HOOK_NAMES = ['onRequest', 'onResponse', 'onPacket', 'onReply'] as const;
const KNOWN_KEYS = new Set(['name', 'match', 'bufferRequest', 'bufferResponse', 'timeoutMs', 'failMode', ...HOOK_NAMES]);
const MATCH_KEYS = new Set(['path', 'methods', 'policies', 'packetTypes', 'upgrades']);

/** Checks and resolves a list of interceptors; names must be unique. */
export function resolveInterceptors(list: readonly unknown[]): Hook[] {
  if (!Array.isArray(list)) throw new InterceptorError('interceptors must be an array');
  const names = new Set<string>();
  return list.map((value, i) => {
    const hook = resolveInterceptor(value, i);
    if (names.has(hook.name)) throw new InterceptorError(`interceptor "${hook.name}": the name is used twice`);
    names.add(hook.name);
    return hook;
  });
}

function resolveInterceptor(value: unknown, index: number): Hook {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InterceptorError(`interceptor #${index + 1} must be an object, got ${describe(value)}`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || !/^[\w.:-]{1,64}$/.test(v.name)) {
    throw new InterceptorError(`interceptor #${index + 1}: "name" must be 1 to 64 letters, digits, or . _ : -`);
  }
  const where = `interceptor "${v.name}"`;
  for (const key of Object.keys(v)) if (!KNOWN_KEYS.has(key)) throw new InterceptorError(`${where}: unknown field "${key}"`);
  for (const h of HOOK_NAMES) {
    if (v[h] !== undefined && typeof v[h] !== 'function') throw new InterceptorError(`${where}: ${h} must be a function`);
  }
  if (!HOOK_NAMES.some((h) => v[h] !== undefined)) throw new InterceptorError(`${where}: has none of ${HOOK_NAMES.join(', ')}`);
  const def = v as unknown as Interceptor;
  checkMatch(where, v.match);
  const timeoutMs = def.timeoutMs ?? HOOK_DEFAULTS.timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new InterceptorError(`${where}: timeoutMs must be a whole number from 1 to 600000`);
  }
  const failMode = def.failMode ?? HOOK_DEFAULTS.failMode;
  if (failMode !== 'closed' && failMode !== 'open') throw new InterceptorError(`${where}: failMode must be "closed" or "open"`);
  const types = def.match?.packetTypes;
  return {
    name: def.name,
    def,
    timeoutMs,
    failOpen: failMode === 'open',
    bufferRequest: bufferLimit(where, 'bufferRequest', def.bufferRequest, def.onRequest !== undefined),
    bufferResponse: bufferLimit(where, 'bufferResponse', def.bufferResponse, def.onResponse !== undefined),
    http: def.onRequest !== undefined || def.onResponse !== undefined,
    onPacket: def.onPacket !== undefined && (types === undefined || types.includes(0)),
    onReply: def.onReply !== undefined && (types === undefined || types.includes(2)),
  };
}

function checkMatch(where: string, match: unknown): void {
  if (match === undefined) return;
  if (typeof match !== 'object' || match === null) throw new InterceptorError(`${where}: match must be an object`);
  const m = match as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!MATCH_KEYS.has(key)) throw new InterceptorError(`${where}: unknown match field "${key}"`);
  if (m.path !== undefined && !(m.path instanceof RegExp)) throw new InterceptorError(`${where}: match.path must be a RegExp`);
  if (m.path instanceof RegExp && (m.path.global || m.path.sticky)) {
    // test() on a /g or /y expression moves lastIndex: every other request would miss.
    throw new InterceptorError(`${where}: match.path must not have the g or y flag`);
  }
  if (m.methods !== undefined && !(Array.isArray(m.methods) && m.methods.every((x) => typeof x === 'string' && x === x.toUpperCase() && x !== ''))) {
    throw new InterceptorError(`${where}: match.methods must be a list of upper-case methods`);
  }
  if (m.policies !== undefined && !(Array.isArray(m.policies) && m.policies.every((x) => Number.isSafeInteger(x) && (x as number) >= 0))) {
    throw new InterceptorError(`${where}: match.policies must be a list of whole numbers`);
  }
  if (m.packetTypes !== undefined && !(Array.isArray(m.packetTypes) && m.packetTypes.every((x) => x === 0 || x === 2))) {
    throw new InterceptorError(`${where}: match.packetTypes must list 0 (client packets) and/or 2 (replies)`);
  }
  if (m.upgrades !== undefined && typeof m.upgrades !== 'boolean') throw new InterceptorError(`${where}: match.upgrades must be true or false`);
}

function bufferLimit(where: string, field: string, value: BufferLimit | undefined, used: boolean): Required<BufferLimit> | undefined {
  if (value === undefined) return undefined;
  if (!used) throw new InterceptorError(`${where}: ${field} is set but its hook (${field === 'bufferRequest' ? 'onRequest' : 'onResponse'}) is not`);
  if (typeof value !== 'object' || value === null) throw new InterceptorError(`${where}: ${field} must be { maxBytes, onOverflow? }`);
  if (!Number.isSafeInteger(value.maxBytes) || value.maxBytes < 0 || value.maxBytes > 1024 ** 3) {
    throw new InterceptorError(`${where}: ${field}.maxBytes must be a whole number from 0 to ${1024 ** 3}`);
  }
  const onOverflow = value.onOverflow ?? HOOK_DEFAULTS.onOverflow;
  if (onOverflow !== 'passthrough' && onOverflow !== 'error') throw new InterceptorError(`${where}: ${field}.onOverflow must be "passthrough" or "error"`);
  if (field === 'bufferRequest' && value.onOverflow !== undefined) {
    throw new InterceptorError(`${where}: bufferRequest has no onOverflow (a request over maxBytes gets 413)`);
  }
  return { maxBytes: value.maxBytes, onOverflow };
}

/** Whether the hook captures an HTTP request (decided on the request as the client sent it); upgrades only with match.upgrades. */
export function matchesRequest(hook: Hook, method: string, path: string, policy: number, upgrade = false): boolean {
  const m = hook.def.match;
  if (upgrade && m?.upgrades !== true) return false;
  if (m === undefined) return true;
  if (m.methods !== undefined && !m.methods.includes(method)) return false;
  if (m.policies !== undefined && !m.policies.includes(policy)) return false;
  return m.path === undefined || m.path.test(path);
}

/** Whether the hook captures packets of this policy. */
export function matchesPolicy(hook: Hook, policy: number): boolean {
  const policies = hook.def.match?.policies;
  return policies === undefined || policies.includes(policy);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'function' ? 'a function' : typeof value;
}
