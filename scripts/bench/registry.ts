#!/usr/bin/env node
/**
 * The shared registry's costs (docs/scale-out.md), side by side in one run on this machine:
 *
 * 1. packets through one broker with --registry redis vs the in-memory registry (interleaved
 *    rounds; the goal is >= 0.95x: routing never waits for Redis);
 * 2. two brokers sharing a registry, each with its own client process, vs one broker with one;
 * 3. registration churn: registrations per second a 3-broker registry absorbs, and the time from
 *    a registration to its arrival in every broker's view (p50/p99), measured on three
 *    RedisStores in this process (the table follows the store synchronously).
 *
 * Run it alone: flock /tmp/bench.lock node dist/scripts/bench/registry.js [--quick]. It starts
 * its own redis-server on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { RedisConnection, parseRegistryUrl } from '../../broker/registry/redis-connection.js';
import { RedisStore } from '../../broker/registry/redis-store.js';
import type { NewEntry } from '../../broker/registry/store.js';
import { silentLogger } from '../../broker/support/logger.js';
import { run, start, type Program } from '../lib/programs.js';
import { freePort, waitForPort } from './processes.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 5;
const PACKETS = quick ? 60_000 : 200_000;
const CHURN = quick ? 2_000 : 10_000;

const children: Array<Program | ChildProcess> = [];
const kill = (): void => {
  for (const c of children) ('child' in c ? c.child : c).kill('SIGKILL');
};
process.on('exit', kill);

async function redisServer(): Promise<string> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(child);
  await waitForPort(port);
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

async function load(port: number): Promise<number> {
  const { stdout } = await run('client', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--count', String(PACKETS), '--concurrency', '64', '--json'], { timeoutMs: 300_000 });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { rps: number; lost: number };
  if (summary.lost !== 0) throw new Error(`lost ${summary.lost} packets`);
  return summary.rps;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function main(): Promise<void> {
  const url = await redisServer();
  const results: Record<string, unknown> = { quick, rounds: ROUNDS, packets: PACKETS };

  // 1. One broker, memory vs Redis, two servers each, interleaved.
  const memPort = await broker([]);
  await pool(memPort, '100,101');
  const redisPort = await broker(['--registry', url, '--registry-prefix', 'bench1:']);
  await pool(redisPort, '200,201');
  const mem: number[] = [];
  const red: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    mem.push(await load(memPort));
    red.push(await load(redisPort));
  }
  results.oneBroker = { memoryRps: median(mem), redisRps: median(red), ratio: Math.round((median(red) / median(mem)) * 1000) / 1000, memory: mem, redis: red };

  // 2. Two brokers sharing a registry, a client each at once, vs one broker with one client.
  const a = await broker(['--registry', url, '--registry-prefix', 'bench2:']);
  const b = await broker(['--registry', url, '--registry-prefix', 'bench2:']);
  await pool(a, '300,301');
  await pool(b, '302,303');
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    one.push(await load(a));
    const [x, y] = await Promise.all([load(a), load(b)]);
    two.push(x + y);
  }
  results.twoBrokers = { oneBrokerRps: median(one), twoBrokersRps: median(two), ratio: Math.round((median(two) / median(one)) * 1000) / 1000 };

  // 3. Registration churn on three brokers' stores.
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
        if (latencies.length === CHURN) allSeen();
      }
    });
  }
  const entry = (id: number): NewEntry => ({ id, policy: 111, host: '10.0.0.1', packetPort: 10_000 + (id % 50_000), httpPort: undefined, maxInflight: 1, session: true, tls: false, owner: `b${id % 3}` });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < CHURN) {
        const id = 1_000_000 + next++;
        registeredAt.set(id, performance.now());
        await stores[id % 3]!.register(entry(id), { ttlMs: 3000 });
      }
    }),
  );
  await done;
  const seconds = (performance.now() - started) / 1000;
  results.churn = {
    registrations: CHURN,
    perSecond: Math.round(CHURN / seconds),
    visibleEverywhereMs: { p50: Math.round(quantile(latencies, 0.5) * 100) / 100, p99: Math.round(quantile(latencies, 0.99) * 100) / 100 },
  };
  for (const store of stores) await store.close();
  console.log(JSON.stringify(results));
  kill();
  process.exit(0);
}

await main();
