/**
 * What `npm run simulate` will run, decided before anything starts: its options checked (each
 * error names the option), the defaults the chaos variant implies, the server ids of each
 * policy and each client's policy. Pure; scripts/simulate.ts runs the plan.
 */
import { STRATEGY_NAMES } from '../../broker/routing/strategies/index.js';

export interface SimulationOptions {
  policies: number[];
  serversPerPolicy: number;
  clients: number;
  packets: number;
  /** Seconds each client sends for, instead of `packets`. */
  durationS: number | undefined;
  concurrency: number;
  payloadSize: number;
  algorithm: string;
  /** Simulated work per packet on the servers, ms. */
  delayMs: number;
  /** Chaos: SIGKILL one server this long into the load. */
  killAfterMs: number | undefined;
  killServer: number | undefined;
  seed: number | undefined;
  json: boolean;
  keepLogs: string | undefined;
  readyTimeoutS: number;
}

/** The options as the command line gives them: strings, or true for a flag. */
export type RawSimulationOptions = Partial<Record<keyof SimulationOptions, string | boolean>>;

/** A bad option; the message names it. */
export class SimulationOptionError extends Error {}

const fail = (message: string): never => {
  throw new SimulationOptionError(message);
};

const WHOLE = /^[0-9]+$/;

function whole(raw: string | boolean | undefined, flag: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const text = String(raw);
  if (!WHOLE.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    fail(`${flag}: expected a whole number${min > 0 ? ` of at least ${min}` : ''}, got '${text}'`);
  }
  return Number(text);
}

/** "2s", "1.5s", "1500ms", "2" (seconds) in milliseconds; undefined for anything else. */
export function parseTime(text: string): number | undefined {
  const seconds = /^([0-9]+)(?:\.([0-9]{1,3}))?s?$/.exec(text);
  if (seconds !== null) return Number(seconds[1]) * 1000 + Number((seconds[2] ?? '').padEnd(3, '0'));
  const ms = /^([0-9]+)ms$/.exec(text);
  return ms === null ? undefined : Number(ms[1]);
}

/** Checks the raw options and fills in the defaults (the classic lab's, and the chaos variant's). */
export function resolveSimulationOptions(raw: RawSimulationOptions): SimulationOptions {
  const policiesText = String(raw.policies ?? '111,222');
  if (!/^[0-9]+(,[0-9]+)*$/.test(policiesText)) fail(`--policies: expected numbers separated by commas, got '${policiesText}'`);
  const policies = policiesText.split(',').map(Number);
  if (new Set(policies).size !== policies.length) fail('--policies: a policy is listed twice');
  const serversPerPolicy = whole(raw.serversPerPolicy, '--servers-per-policy', 2, 1);
  const clients = whole(raw.clients, '--clients', 15, 1);
  const packets = whole(raw.packets, '--packets', 100, 1);
  const concurrency = whole(raw.concurrency, '--concurrency', 1, 1);
  const readyTimeoutS = whole(raw.readyTimeoutS, '--ready-timeout', 20, 1);
  const payloadSize = whole(raw.payloadSize, '--payload-size', 32, 0);
  const algorithm = String(raw.algorithm ?? 'round-robin');
  if (!(STRATEGY_NAMES as readonly string[]).includes(algorithm)) fail(`--algorithm: unknown '${algorithm}'`);
  let delayMs = raw.delayMs === undefined ? undefined : whole(raw.delayMs, '--delay', 0, 0);
  const seed = raw.seed === undefined ? undefined : whole(raw.seed, '--seed', 0, 0);
  const killServer = raw.killServer === undefined ? undefined : whole(raw.killServer, '--kill-server', 0, 0);
  let durationS: number | undefined;
  if (raw.durationS !== undefined) {
    const text = String(raw.durationS);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) <= 0) fail(`--duration: expected seconds above 0, got '${text}'`);
    durationS = Number(text);
  }
  let killAfterMs: number | undefined;
  if (raw.killAfterMs !== undefined) {
    const text = String(raw.killAfterMs);
    killAfterMs = parseTime(text) ?? fail(`--kill-one-server-after: expected a time like 2s or 1500ms, got '${text}'`);
    if (killAfterMs < 100) fail('--kill-one-server-after: at least 100ms');
    if (serversPerPolicy < 2) fail('--kill-one-server-after needs --servers-per-policy 2 or more, or nobody can take over');
    delayMs ??= 5;
    durationS ??= (2 * killAfterMs + 2000) / 1000;
  } else if (killServer !== undefined) {
    fail('--kill-server needs --kill-one-server-after');
  }
  return {
    policies,
    serversPerPolicy,
    clients,
    packets,
    durationS,
    concurrency,
    payloadSize,
    algorithm,
    delayMs: delayMs ?? 0,
    killAfterMs,
    killServer,
    seed,
    json: raw.json === true,
    keepLogs: typeof raw.keepLogs === 'string' ? raw.keepLogs : undefined,
    readyTimeoutS,
  };
}

/**
 * The server ids of each policy: the k-th server of the i-th policy is 100 * (k * policies + i + 1),
 * so the classic lab comes out on defaults: 111 -> 100, 300 and 222 -> 200, 400.
 */
export function serverIds(policies: number[], perPolicy: number): Map<number, number[]> {
  const ids = new Map<number, number[]>();
  policies.forEach((policy, i) => {
    ids.set(policy, Array.from({ length: perPolicy }, (_, k) => 100 * (k * policies.length + i + 1)));
  });
  return ids;
}

/** Each client's policy, at random; the same for the same seed. */
export function clientPolicies(clients: number, policies: number[], seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: clients }, () => policies[Math.floor(next() * policies.length)]!);
}

/** A small seeded generator (mulberry32): numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
