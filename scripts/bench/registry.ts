/**
 * The shared registry's costs (docs/scale-out.md), side by side in one run on this machine; the
 * `registry` suite of `npm run bench` (`npm run bench -- --only registry`):
 *
 * 1. packets through one broker with --registry redis vs the in-memory registry (interleaved
 *    rounds; the goal is >= 0.95x: routing never waits for Redis);
 * 2. two brokers sharing a registry, each with its own client process, vs one broker with one;
 * 3. registration churn: registrations per second a 3-broker registry absorbs, and the time from
 *    a registration to its arrival in every broker's view (p50/p99), measured on three
 *    RedisStores in this process (the table follows the store synchronously);
 * 4. failover: packets/s through one broker on Redis Sentinel (a primary, a replica, three
 *    Sentinels) while the Redis primary is SIGKILLed, beside the same load without the kill, and
 *    how long a registration made at the moment of the kill waits for its answer.
 *
 * It starts its own redis-server (and Sentinel set) on free loopback ports, and kills what it
 * started when done.
 */
import type { ChildProcess } from 'node:child_process';
import { RedisConnection, parseRegistryUrl } from '../../broker/registry/redis-connection.js';
import { RedisStore } from '../../broker/registry/redis-store.js';
import type { NewEntry } from '../../broker/registry/store.js';
import { silentLogger } from '../../broker/support/logger.js';
import { run, start, type Program } from '../lib/programs.js';
import { launch, launchSentinels } from '../lib/redis-nodes.js';
import { REGISTRY_CASES, REGISTRY_FAILOVER, REGISTRY_LOAD, REGISTRY_SUITES, type Mode } from './config.js';
import { freePort } from './processes.js';
import type { RunRecord } from './results.js';

const children: Array<Program | ChildProcess> = [];
const kill = (): void => {
  for (const c of children.splice(0)) ('child' in c ? c.child : c).kill('SIGKILL');
};
// A harness that exits half-way (an error, Ctrl-C) leaves nothing behind.
process.on('exit', kill);

async function redisServer(): Promise<string> {
  const port = await freePort();
  children.push(await launch(port, []));
  return `redis://127.0.0.1:${port}`;
}

async function broker(args: string[]): Promise<number> {
  const b = start('broker', ['--port', '0', ...args]);
  children.push(b);
  return (await b.ready).packet.port as number;
}

async function pool(port: number, ids: string): Promise<void> {
  const p = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', ids]);
  children.push(p);
  await p.ready;
}

async function load(port: number, packets: number): Promise<number> {
  const { stdout } = await run('client', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--count', String(packets), '--concurrency', '64', '--json'], { timeoutMs: 300_000 });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { rps: number; lost: number };
  if (summary.lost !== 0) throw new Error(`lost ${summary.lost} packets`);
  return summary.rps;
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

export interface RegistryOptions {
  mode: Mode;
  rounds: number;
  log: (line: string) => void;
  /** Whether redis-sentinel is installed (the failover case needs it). */
  sentinel: boolean;
}

/** The three measures as run records; every process it starts is killed before it returns. */
export async function registrySuite(options: RegistryOptions): Promise<RunRecord[]> {
  try {
    return await measure(options);
  } finally {
    kill();
  }
}

async function measure({ mode, rounds, log, sentinel }: RegistryOptions): Promise<RunRecord[]> {
  const { packets, registrations } = REGISTRY_LOAD[mode];
  const url = await redisServer();
  const records: RunRecord[] = [];
  const record = (suite: string, name: string, round: number, rps: number, extra: Partial<RunRecord> = {}): void => {
    records.push({ suite, case: name, round, rps, errors: 0, ...extra });
    log(`  ${suite} round ${round + 1}: ${name} ${Math.round(rps)}/s`);
  };

  // 1. One broker, memory vs Redis, two servers each, interleaved.
  const memPort = await broker([]);
  await pool(memPort, '100,101');
  const redisPort = await broker(['--registry', url, '--registry-prefix', 'bench1:']);
  await pool(redisPort, '200,201');
  for (let r = 0; r < rounds; r++) {
    record(REGISTRY_SUITES.oneBroker, REGISTRY_CASES.memory, r, await load(memPort, packets));
    record(REGISTRY_SUITES.oneBroker, REGISTRY_CASES.redis, r, await load(redisPort, packets));
  }

  // 2. Two brokers sharing a registry, a client each at once, vs one broker with one client.
  const a = await broker(['--registry', url, '--registry-prefix', 'bench2:']);
  const b = await broker(['--registry', url, '--registry-prefix', 'bench2:']);
  await pool(a, '300,301');
  await pool(b, '302,303');
  for (let r = 0; r < rounds; r++) {
    record(REGISTRY_SUITES.twoBrokers, REGISTRY_CASES.one, r, await load(a, packets));
    const [x, y] = await Promise.all([load(a, packets), load(b, packets)]);
    record(REGISTRY_SUITES.twoBrokers, REGISTRY_CASES.two, r, x + y);
  }

  // 3. Registration churn on three brokers' stores.
  const churn = await registrationChurn(url, registrations);
  record(REGISTRY_SUITES.churn, REGISTRY_CASES.churn, 0, churn.perSecond, { p50Ms: churn.p50Ms, p99Ms: churn.p99Ms, answered: registrations, note: 'registrations/s; p50/p99: registration to every broker\'s view' });

  // 4. A Redis primary lost under load.
  if (sentinel) records.push(...(await failoverCase({ ...REGISTRY_FAILOVER[mode], log })));
  else log('  registry failover: skipped (no redis-sentinel)');
  return records;
}

export interface FailoverOptions {
  /** Each load's length. */
  durationS: number;
  /** When the primary is killed, into the load. */
  killAfterMs: number;
  log: (line: string) => void;
}

/**
 * The failover case: one broker on Redis Sentinel with two servers, a load of `durationS`
 * without and then with the primary SIGKILLed `killAfterMs` into it; at that moment (kill or
 * not) a new server registers, and the time to its answer is recorded. One kill: the Sentinel
 * set is stopped afterwards. Exported so that it can be run alone with small settings.
 */
export async function failoverCase({ durationS, killAfterMs, log }: FailoverOptions): Promise<RunRecord[]> {
  let stop: (() => Promise<void>) | undefined;
  try {
    const redis = await launchSentinels('bench', 1000, (s) => (stop = s));
    const port = await broker(['--registry', redis.url, '--registry-prefix', 'bench4:']);
    await pool(port, '400,401');
    const records: RunRecord[] = [];
    for (const [name, kill, id] of [[REGISTRY_CASES.steady, false, 410], [REGISTRY_CASES.killed, true, 411]] as const) {
      const loading = loadFor(port, durationS);
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      const at = performance.now();
      let promoted: Promise<number> | undefined;
      if (kill) {
        const old = await redis.primaryPort();
        await redis.kill(old);
        promoted = redis.failedOver(old, 30_000).then(() => performance.now() - at);
      }
      const registration = await timeRegistration(port, id, at);
      const summary = await loading;
      const failoverMs = promoted === undefined ? undefined : Math.round(await promoted);
      const errors = Object.values(summary.errors).reduce((sum, n) => sum + n, 0);
      records.push({
        suite: REGISTRY_SUITES.failover,
        case: name,
        round: 0,
        rps: summary.rps,
        errors,
        answered: summary.answered,
        p99Ms: summary.p99Ms,
        maxMs: summary.maxMs,
        ...(registration.ms !== undefined && { registrationMs: registration.ms }),
        ...(failoverMs !== undefined && { failoverMs }),
        note: `lost ${summary.lost}${registration.error === undefined ? '' : `; registration failed: ${registration.error}`}`,
      });
      log(`  registry failover: ${name} ${Math.round(summary.rps)}/s, lost ${summary.lost}, errors ${errors}, registration ${registration.ms ?? '-'} ms${failoverMs === undefined ? '' : `, promoted after ${failoverMs} ms`}`);
    }
    return records;
  } finally {
    kill();
    await stop?.();
  }
}

/** A load of `seconds` through `port` (16 in flight); its summary, whatever the errors. */
async function loadFor(port: number, seconds: number): Promise<{ rps: number; answered: number; lost: number; errors: Record<string, number>; p99Ms: number; maxMs: number }> {
  const { stdout } = await run('client', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--duration', String(seconds), '--concurrency', '16', '--json'], { timeoutMs: seconds * 1000 + 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Starts a server `id` registering with `port`; how long from `since` until the broker answered it (the pool is ready), or why it failed. */
async function timeRegistration(port: number, id: number, since: number): Promise<{ ms?: number; error?: string }> {
  const p = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', String(id)], { readyTimeoutMs: 60_000 });
  children.push(p);
  try {
    await p.ready;
    return { ms: Math.round(performance.now() - since) };
  } catch (err) {
    return { error: (err as Error).message.slice(0, 200) };
  }
}

async function registrationChurn(url: string, registrations: number): Promise<{ perSecond: number; p50Ms: number; p99Ms: number }> {
  const stores: RedisStore[] = [];
  for (let i = 0; i < 3; i++) {
    const connection = await RedisConnection.open(parseRegistryUrl(url), { connectTimeoutMs: 3000, commandTimeoutMs: 2000, logger: silentLogger(), name: `bench-${i}` });
    const store = new RedisStore({ prefix: 'bench3:', brokerId: `b${i}`, resyncMs: 1000, logger: silentLogger() });
    await store.start(connection);
    stores.push(store);
  }
  const registeredAt = new Map<number, number>();
  const seenBy = new Map<number, number>();
  const latencies: number[] = [];
  let allSeen: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allSeen = resolve));
  for (const store of stores) {
    store.watch((event) => {
      if (event.kind !== 'added') return;
      const id = event.entry.id;
      const n = (seenBy.get(id) ?? 0) + 1;
      seenBy.set(id, n);
      if (n === stores.length) {
        latencies.push(performance.now() - registeredAt.get(id)!);
        if (latencies.length === registrations) allSeen();
      }
    });
  }
  const entry = (id: number): NewEntry => ({ id, policy: 111, host: '10.0.0.1', packetPort: 10_000 + (id % 50_000), httpPort: undefined, maxInflight: 1, session: true, tls: false, owner: `b${id % 3}` });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < registrations) {
        const id = 1_000_000 + next++;
        registeredAt.set(id, performance.now());
        await stores[id % 3]!.register(entry(id), { ttlMs: 3000 });
      }
    }),
  );
  await done;
  const seconds = (performance.now() - started) / 1000;
  for (const store of stores) await store.close();
  const round2 = (n: number): number => Math.round(n * 100) / 100;
  return { perSecond: Math.round(registrations / seconds), p50Ms: round2(quantile(latencies, 0.5)), p99Ms: round2(quantile(latencies, 0.99)) };
}
